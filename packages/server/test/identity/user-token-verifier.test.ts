/**
 * The user's token (RFC 8693 `subject_token`): accepted when a real OpenID provider (the dev IdP, signed in through
 * authorization code + PKCE) issued it for Writ; every forgery, stale or misdirected token refused with
 * `invalid_request`, a fixed public description and the reason in the private detail.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { OAuthError } from '../../src/errors/index.js';
import {
  createUserTokenVerifier,
  isAllowedProviderUrl,
  type TrustedProvider,
  type UserTokenVerifierOptions,
} from '../../src/identity/index.js';
import { startDevIdentityProvider, type DevIdentityProvider } from '@writ/dev';
import { startTestIssuer, type TestIssuer } from './test-issuer.js';

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const parts = (jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown>; signature: string } => {
  const [h = '', p = '', s = ''] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
    signature: s,
  };
};

/** The private reason of the refusal, after checking that it is the one public refusal RFC 8693 prescribes. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof OAuthError, String(err));
    assert.equal(err.error, 'invalid_request');
    assert.equal(err.status, 400);
    assert.ok(err.detail !== undefined);
    // Nothing of the reason reaches the wire.
    assert.ok(!JSON.stringify(err.toJSON()).includes(err.detail));
    return err.detail;
  }
  assert.fail('the token was accepted');
}

/** A fetch that counts requests per URL path. */
function countingFetch(): { fetch: typeof fetch; count: (pathSuffix: string) => number } {
  const seen: string[] = [];
  return {
    fetch: (input, init) => {
      seen.push(new URL(input instanceof Request ? input.url : input.toString()).pathname);
      return fetch(input, init);
    },
    count: (suffix) => seen.filter((p) => p.endsWith(suffix)).length,
  };
}

describe('against a real OpenID provider', () => {
  let idp: DevIdentityProvider;
  let provider: TrustedProvider;
  let aliceToken: string;
  const verifier = (o: Partial<UserTokenVerifierOptions> = {}, p: Partial<TrustedProvider> = {}) =>
    createUserTokenVerifier({ listProviders: () => Promise.resolve([{ ...provider, ...p }]), ...o });

  before(async () => {
    idp = await startDevIdentityProvider({ port: 0 });
    provider = { id: 'dev', issuer: idp.issuer, jwksUri: null, discovery: true, audience: idp.audience };
    aliceToken = (await idp.loginAs('alice')).idToken;
  });
  after(() => idp.close());

  test('an ID token from a real sign-in is dev:alice, through discovery or a configured JWKS URL', async () => {
    const user = await verifier().verify(aliceToken, TOKEN_TYPE.idToken);
    assert.deepEqual(
      { userId: user.userId, providerId: user.providerId, sub: user.sub, issuer: user.issuer },
      { userId: 'dev:alice', providerId: 'dev', sub: 'alice', issuer: idp.issuer },
    );
    assert.equal(user.claims['email'], 'alice@example.com');
    const direct = verifier({}, { discovery: false, jwksUri: idp.jwksUri });
    assert.equal((await direct.verify(aliceToken, TOKEN_TYPE.jwt)).userId, 'dev:alice');
  });

  test('an RS256 ID token is accepted too', async () => {
    const rsIdp = await startDevIdentityProvider({ port: 0, idTokenSigningAlg: 'RS256' });
    try {
      const { idToken } = await rsIdp.loginAs('bob');
      assert.equal(decodeProtectedHeader(idToken).alg, 'RS256');
      const v = createUserTokenVerifier({
        listProviders: () =>
          Promise.resolve([{ id: 'rs', issuer: rsIdp.issuer, jwksUri: null, discovery: true, audience: rsIdp.audience }]),
      });
      assert.equal((await v.verify(idToken, TOKEN_TYPE.idToken)).userId, 'rs:bob');
    } finally {
      await rsIdp.close();
    }
  });

  test('discovery and keys are fetched once, and again after invalidate()', async () => {
    const counter = countingFetch();
    const v = verifier({ fetch: counter.fetch });
    for (let i = 0; i < 5; i++) await v.verify(aliceToken, TOKEN_TYPE.idToken);
    assert.equal(counter.count('/openid-configuration'), 1);
    assert.equal(counter.count('/jwks'), 1);
    v.invalidate();
    await v.verify(aliceToken, TOKEN_TYPE.idToken);
    assert.equal(counter.count('/openid-configuration'), 2);
    assert.equal(counter.count('/jwks'), 2);
  });

  test('a payload changed after signing', async () => {
    const { payload, signature } = parts(aliceToken);
    const [header = ''] = aliceToken.split('.');
    const forged = `${header}.${b64({ ...payload, sub: 'bob' })}.${signature}`;
    assert.match(await refusal(verifier().verify(forged, TOKEN_TYPE.idToken)), /signature verification failed/);
  });

  test("a token signed by another key under the provider's kid", async () => {
    const { kid } = decodeProtectedHeader(aliceToken);
    assert.ok(kid !== undefined);
    const attacker = await generateKeyPair('ES256');
    const forged = await new SignJWT(parts(aliceToken).payload).setProtectedHeader({ alg: 'ES256', kid }).sign(attacker.privateKey);
    assert.match(await refusal(verifier().verify(forged, TOKEN_TYPE.idToken)), /signature verification failed/);
  });

  test('alg none, in any spelling', async () => {
    const { payload } = parts(aliceToken);
    for (const alg of ['none', 'None', 'NONE']) {
      const detail = await refusal(verifier().verify(`${b64({ alg, typ: 'JWT' })}.${b64(payload)}.`, TOKEN_TYPE.idToken));
      assert.match(detail, /ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWS_INVALID/, alg);
    }
  });

  test("HS256 keyed with the provider's public key (PEM and JWK forms)", async () => {
    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: JWK[] };
    const es = jwks.keys.find((k) => k.alg === 'ES256');
    assert.ok(es !== undefined);
    const pem = await exportSPKI((await importJWK(es, 'ES256', { extractable: true })) as CryptoKey);
    const { payload } = parts(aliceToken);
    for (const secret of [pem, JSON.stringify(es)]) {
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: es.kid })}.${b64(payload)}`;
      const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      assert.match(await refusal(verifier().verify(token, TOKEN_TYPE.idToken)), /ERR_JOSE_ALG_NOT_ALLOWED/);
    }
  });

  test('an unknown kid forces one JWKS refetch, then fails; more unknown kids inside the cooldown fetch nothing', async () => {
    const counter = countingFetch();
    const v = verifier({ fetch: counter.fetch, kidRefetchCooldownMs: 300 });
    await v.verify(aliceToken, TOKEN_TYPE.idToken);
    assert.equal(counter.count('/jwks'), 1);
    await sleep(350);
    const attacker = await generateKeyPair('ES256');
    const forge = (kid: string): Promise<string> =>
      new SignJWT(parts(aliceToken).payload).setProtectedHeader({ alg: 'ES256', kid }).sign(attacker.privateKey);
    assert.match(await refusal(v.verify(await forge('rotated-in?'), TOKEN_TYPE.idToken)), /ERR_JWKS_NO_MATCHING_KEY/);
    assert.equal(counter.count('/jwks'), 2, 'one refetch');
    for (let i = 0; i < 20; i++) await refusal(v.verify(await forge(`kid-${i}`), TOKEN_TYPE.idToken));
    assert.equal(counter.count('/jwks'), 2, 'no refetch during the cooldown');
    // The genuine token still verifies from the cached keys.
    assert.equal((await v.verify(aliceToken, TOKEN_TYPE.idToken)).userId, 'dev:alice');
  });

  test('expired, and issued in the future (Writ clock moved)', async () => {
    const hour = 3600_000;
    assert.match(await refusal(verifier({ now: () => Date.now() + 2 * hour }).verify(aliceToken, TOKEN_TYPE.idToken)), /ERR_JWT_EXPIRED/);
    assert.match(await refusal(verifier({ now: () => Date.now() - hour }).verify(aliceToken, TOKEN_TYPE.idToken)), /iat in the future/);
  });

  test('issued for another audience', async () => {
    assert.match(await refusal(verifier({}, { audience: 'another-client' }).verify(aliceToken, TOKEN_TYPE.idToken)), /"aud"/);
  });

  test('an issuer Writ does not trust', async () => {
    const attacker = await generateKeyPair('ES256');
    const token = await new SignJWT({ ...parts(aliceToken).payload, iss: `${idp.issuer}/` })
      .setProtectedHeader({ alg: 'ES256' })
      .sign(attacker.privateKey);
    // Exact match: a trailing slash is another issuer.
    assert.equal(await refusal(verifier().verify(token, TOKEN_TYPE.idToken)), 'untrusted issuer');
    assert.equal(await refusal(verifier().verify(`${b64({ alg: 'ES256' })}.${b64({ sub: 'x' })}.AA`, TOKEN_TYPE.jwt)), 'no iss');
  });

  test('token types: only JWTs, as jwt, id_token or a JWT access_token', async () => {
    for (const type of ['urn:ietf:params:oauth:token-type:saml2', TOKEN_TYPE.refreshToken, 'id_token', '']) {
      await assert.rejects(verifier().verify(aliceToken, type), (err: unknown) => {
        assert.ok(err instanceof OAuthError);
        assert.equal(err.error, 'invalid_request');
        assert.equal(err.description, 'unsupported subject_token_type');
        return true;
      });
    }
    // oidc-provider's access tokens are opaque: refused even under the right type.
    const { accessToken } = await idp.loginAs('bob');
    assert.ok(accessToken !== undefined);
    assert.equal(await refusal(verifier().verify(accessToken, TOKEN_TYPE.accessToken)), 'not a JWT');
    assert.match(await refusal(verifier().verify('x'.repeat(40_000), TOKEN_TYPE.jwt)), /longer than/);
  });
});

describe('claim checks, with tokens signed by a trusted key the test holds', () => {
  let iss: TestIssuer;
  const v = (o: Partial<UserTokenVerifierOptions> = {}) =>
    createUserTokenVerifier({
      listProviders: () => Promise.resolve([{ id: 't', issuer: iss.issuer, jwksUri: iss.jwksUri, discovery: false, audience: 'writ' }]),
      ...o,
    });
  before(async () => {
    iss = await startTestIssuer('writ');
  });
  after(() => iss.close());
  const now = (): number => Math.floor(Date.now() / 1000);

  test('a well-formed token is accepted (and aud may be an array containing Writ)', async () => {
    assert.equal((await v().verify(await iss.sign(), TOKEN_TYPE.jwt)).userId, 't:user-1');
    assert.equal((await v().verify(await iss.sign({ aud: ['other', 'writ'] }), TOKEN_TYPE.jwt)).sub, 'user-1');
  });

  test('each claim check on its own', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['wrong audience', { aud: 'other' }, /unexpected "aud"/],
      ['no audience', { aud: undefined }, /"aud"/],
      ['expired beyond the skew', { exp: now() - 10 }, /ERR_JWT_EXPIRED/],
      ['no exp', { exp: undefined }, /missing required "exp"/],
      ['nbf beyond the skew', { nbf: now() + 60 }, /"nbf"/],
      ['iat beyond the skew', { iat: now() + 60 }, /iat in the future/],
      ['no sub', { sub: undefined }, /missing required "sub"/],
      ['empty sub', { sub: '' }, /sub missing/],
      ['sub not a string', { sub: 42 }, /sub missing|"sub"/],
      ['sub with a control character', { sub: 'alice\nadmin' }, /sub missing/],
      ['sub longer than 255', { sub: 'a'.repeat(256) }, /sub missing/],
    ];
    for (const [name, claims, expected] of cases)
      assert.match(await refusal(v().verify(await iss.sign(claims), TOKEN_TYPE.jwt)), expected, name);
  });

  test('clock skew is tolerated up to clockSkewSeconds', async () => {
    const early = await iss.sign({ nbf: now() + 3, iat: now() + 3 });
    assert.equal((await v().verify(early, TOKEN_TYPE.jwt)).sub, 'user-1');
    assert.match(await refusal(v({ clockSkewSeconds: 0 }).verify(early, TOKEN_TYPE.jwt)), /nbf|iat/);
  });
});

describe('discovery and transport', () => {
  let iss: TestIssuer;
  before(async () => {
    iss = await startTestIssuer('writ');
  });
  after(() => iss.close());
  const v = (p: Partial<TrustedProvider>, o: Partial<UserTokenVerifierOptions> = {}) =>
    createUserTokenVerifier({
      listProviders: () => Promise.resolve([{ id: 't', issuer: iss.issuer, jwksUri: null, discovery: true, audience: 'writ', ...p }]),
      ...o,
    });

  test('a discovery document naming another issuer is refused', async () => {
    iss.discovery = { issuer: `${iss.issuer}/other`, jwks_uri: iss.jwksUri };
    assert.match(await refusal(v({}).verify(await iss.sign(), TOKEN_TYPE.jwt)), /discovery issuer/);
  });

  test('a failed discovery is not retried for every token, but is after the cooldown', async () => {
    iss.discovery = 500;
    iss.hits.clear();
    const verifier = v({}, { failureCooldownMs: 200 });
    const token = await iss.sign();
    for (let i = 0; i < 5; i++) assert.match(await refusal(verifier.verify(token, TOKEN_TYPE.jwt)), /HTTP 500/);
    assert.equal(iss.hits.get('/.well-known/openid-configuration'), 1);
    iss.discovery = { issuer: iss.issuer, jwks_uri: iss.jwksUri };
    await sleep(250);
    assert.equal((await verifier.verify(token, TOKEN_TYPE.jwt)).userId, 't:user-1');
    assert.equal(iss.hits.get('/.well-known/openid-configuration'), 2);
  });

  test('a JWKS URL that fails is not refetched for every token', async () => {
    iss.hits.clear();
    const verifier = v({ discovery: false, jwksUri: `${iss.issuer}/missing-jwks` });
    const token = await iss.sign();
    assert.match(await refusal(verifier.verify(token, TOKEN_TYPE.jwt)), /Expected 200 OK/);
    for (let i = 0; i < 5; i++) assert.match(await refusal(verifier.verify(token, TOKEN_TYPE.jwt)), /failed recently/);
    assert.equal(iss.hits.get('/missing-jwks'), 1);
  });

  test('plain http off loopback is refused before anything is fetched', async () => {
    const counter = countingFetch();
    const remote = 'http://idp.example';
    const token = await iss.sign({ iss: remote });
    const verifier = createUserTokenVerifier({
      fetch: counter.fetch,
      listProviders: () => Promise.resolve([{ id: 'r', issuer: remote, jwksUri: `${remote}/jwks`, discovery: false, audience: 'writ' }]),
    });
    assert.match(await refusal(verifier.verify(token, TOKEN_TYPE.jwt)), /https/);
    // A loopback issuer whose discovery points its keys at plain http elsewhere.
    iss.discovery = { issuer: iss.issuer, jwks_uri: 'http://keys.example/jwks' };
    assert.match(await refusal(v({}, { fetch: counter.fetch }).verify(await iss.sign(), TOKEN_TYPE.jwt)), /JWKS URL .* must be https/);
    assert.equal(counter.count('/jwks'), 0);
    iss.discovery = { issuer: iss.issuer, jwks_uri: iss.jwksUri };
  });

  test('which provider URLs are acceptable', () => {
    const ok = [
      'https://idp.example',
      'https://idp.example/tenant/v2.0',
      'http://127.0.0.1:8080',
      'http://127.9.8.7/x',
      'http://[::1]:3000',
      'http://localhost:9000',
      'http://2130706433/',
    ];
    const refused = [
      'http://idp.example',
      'http://10.0.0.1',
      'http://0.0.0.0:80',
      'http://[::ffff:127.0.0.1]/',
      'http://127.0.0.1.nip.io',
      'http://localhost.evil.example',
      'ftp://127.0.0.1',
      'https://user:pw@idp.example',
      'https://idp.example/#x',
      'not a url',
    ];
    for (const u of ok) assert.equal(isAllowedProviderUrl(u), true, u);
    for (const u of refused) assert.equal(isAllowedProviderUrl(u), false, u);
  });
});
