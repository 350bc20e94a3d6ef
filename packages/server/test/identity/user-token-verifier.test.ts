/**
 * Users' tokens against a real OpenID provider (the dev provider: oidc-provider on loopback, signed in through
 * authorization code + PKCE), and every forgery refused with RFC 8693's `invalid_request`.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { OAuthError } from '../../src/errors/index.js';
import { createUserTokenVerifier, type TrustedProvider } from '../../src/identity/index.js';
import { startDevIdentityProvider, type DevIdentityProvider } from '../../src/dev/idp/index.js';

let idp: DevIdentityProvider;
let provider: TrustedProvider;
before(async () => {
  idp = await startDevIdentityProvider({ port: 0 });
  provider = { id: 'dev', issuer: idp.issuer, jwksUri: null, discovery: true, audience: idp.audience };
});
after(async () => {
  await idp.close();
});

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof OAuthError, String(err));
    assert.equal(err.error, 'invalid_request');
    return err.detail ?? err.description;
  }
}

test('a real sign-in yields an ID token Writ accepts as dev:alice', async () => {
  const alice = idp.accounts.find((a) => a.username === 'alice');
  const { idToken, claims } = await idp.loginAs('alice', alice?.password);
  assert.equal(claims['email'], 'alice@example.com');
  const verifier = createUserTokenVerifier({ listProviders: async () => [provider] });
  const user = await verifier.verify(idToken, TOKEN_TYPE.idToken);
  assert.equal(user.userId, 'dev:alice');
  assert.equal(user.providerId, 'dev');
  await assert.rejects(idp.loginAs('alice', 'wrong-password'), /login failed/);
});

test('forged, stale and misdirected tokens are refused', async () => {
  const alice = idp.accounts.find((a) => a.username === 'alice');
  const { idToken } = await idp.loginAs('alice', alice?.password);
  const { kid } = decodeProtectedHeader(idToken);
  const payload = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  const attacker = await generateKeyPair('ES256');
  const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Array<Record<string, unknown>> };
  const verifier = createUserTokenVerifier({ listProviders: async () => [provider] });
  const v = (t: string, type: string = TOKEN_TYPE.idToken): Promise<unknown> => verifier.verify(t, type);
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const hs = (() => {
    const h = b64({ alg: 'HS256', kid });
    return `${h}.${b64(payload)}.${createHmac('sha256', JSON.stringify(jwks.keys[0]))
      .update(`${h}.${b64(payload)}`)
      .digest('base64url')}`;
  })();
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    [
      'other key, same kid',
      async () => v(await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: kid ?? '' }).sign(attacker.privateKey)),
      /signature/i,
    ],
    ['alg none', async () => v(`${b64({ alg: 'none' })}.${b64(payload)}.`), /alg|JOSE/i],
    ['HS256 keyed with the public key', async () => v(hs), /alg|JOSE/i],
    [
      'tampered payload',
      async () => v(`${idToken.split('.')[0]}.${b64({ ...payload, sub: 'bob' })}.${idToken.split('.')[2]}`),
      /signature/i,
    ],
    [
      'wrong audience',
      async () =>
        v(await new SignJWT({ ...payload, aud: 'other-client' }).setProtectedHeader({ alg: 'ES256', kid: 'x' }).sign(attacker.privateKey)),
      /.+/,
    ],
    [
      'untrusted issuer',
      async () =>
        v(await new SignJWT({ ...payload, iss: 'http://127.0.0.1:1/evil' }).setProtectedHeader({ alg: 'ES256' }).sign(attacker.privateKey)),
      /untrusted issuer/,
    ],
    [
      'unknown kid',
      async () => v(await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'nope' }).sign(attacker.privateKey)),
      /no applicable key|JWKS/i,
    ],
    ['not a JWT', async () => v('hello'), /not a JWT/],
    ['SAML is not supported', async () => v(idToken, 'urn:ietf:params:oauth:token-type:saml2'), /saml2/],
  ];
  for (const [name, run, expected] of cases) assert.match(await reason(run()), expected, name);
  const late = createUserTokenVerifier({ listProviders: async () => [provider], now: () => Date.now() + 2 * 3600_000 });
  assert.match(await reason(late.verify(idToken, TOKEN_TYPE.idToken)), /exp/, 'expired');
  const wrongAud = createUserTokenVerifier({ listProviders: async () => [{ ...provider, audience: 'another-client' }] });
  assert.match(await reason(wrongAud.verify(idToken, TOKEN_TYPE.idToken)), /aud/, 'wrong audience');
});

test('discovery whose issuer differs is refused; http issuers only on loopback', async () => {
  const evil = createServer((_req, res) =>
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ issuer: 'http://127.0.0.1:9/other', jwks_uri: `${idp.issuer}/jwks` })),
  );
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;
  try {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    void (await exportJWK(publicKey));
    const token = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(issuer)
      .setAudience('a')
      .setExpirationTime('5m')
      .sign(privateKey);
    const v = createUserTokenVerifier({
      listProviders: async () => [{ id: 'evil', issuer, jwksUri: null, discovery: true, audience: 'a' }],
    });
    assert.match(await reason(v.verify(token, TOKEN_TYPE.jwt)), /discovery issuer/);
    const remote = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('http://idp.example')
      .setAudience('a')
      .setExpirationTime('5m')
      .sign(privateKey);
    const v2 = createUserTokenVerifier({
      listProviders: async () => [
        { id: 'remote', issuer: 'http://idp.example', jwksUri: 'http://idp.example/jwks', discovery: false, audience: 'a' },
      ],
    });
    assert.match(await reason(v2.verify(remote, TOKEN_TYPE.jwt)), /https/);
  } finally {
    evil.close();
  }
});
