/**
 * The dev identity provider: a real oidc-provider on loopback, signed in through authorization code + PKCE by a
 * scripted browser, trusted by Writ through discovery with the client id as audience.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { createUserTokenVerifier } from '../../src/identity/index.js';
import { startDevIdentityProvider } from '@writ/dev';
import { ScriptedBrowser } from '@writ/dev';

/** Runs `fn` with console output captured, and returns what oidc-provider printed. */
async function providerChatter(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const saved = { warn: console.warn, info: console.info, log: console.log, error: console.error };
  for (const k of ['warn', 'info', 'log', 'error'] as const) {
    console[k] = (...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    };
  }
  try {
    await fn();
  } finally {
    Object.assign(console, saved);
  }
  return lines.filter((l) => l.includes('oidc-provider'));
}

test('alice signs in for real, and Writ accepts her ID token as dev:alice; the provider stays quiet', async () => {
  const chatter = await providerChatter(async () => {
    const idp = await startDevIdentityProvider({ port: 0 });
    try {
      assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(idp.audience, idp.clientId);
      assert.deepEqual(
        idp.accounts.map((a) => a.username),
        ['alice', 'bob', 'carol', 'dana'],
      );
      const alice = idp.accounts.find((a) => a.username === 'alice');
      assert.ok(alice !== undefined && alice.password.length >= 16);
      const { idToken, claims } = await idp.loginAs('alice', alice.password);
      assert.equal(decodeProtectedHeader(idToken).alg, 'ES256');
      assert.equal(claims['sub'], 'alice');
      assert.equal(claims['name'], alice.name);
      assert.equal(claims['email'], 'alice@example.com');
      assert.equal(claims['aud'], 'writ-demo');
      const verifier = createUserTokenVerifier({
        listProviders: () => Promise.resolve([{ id: 'dev', issuer: idp.issuer, jwksUri: null, discovery: true, audience: idp.audience }]),
      });
      const user = await verifier.verify(idToken, TOKEN_TYPE.idToken);
      assert.equal(user.userId, 'dev:alice');
    } finally {
      await idp.close();
    }
  });
  assert.deepEqual(chatter, []);
});

test('wrong password, unknown user and given passwords', async () => {
  const idp = await startDevIdentityProvider({
    accounts: [{ username: 'carol', name: 'Carol', email: 'carol@example.com', password: 'correct horse' }],
    clientId: 'my-demo',
  });
  try {
    assert.equal(idp.accounts[0]?.password, 'correct horse');
    await assert.rejects(idp.loginAs('carol', 'battery staple'), /login failed for carol: wrong username or password/);
    await assert.rejects(idp.loginAs('mallory', 'correct horse'), /login failed for mallory/);
    const { claims } = await idp.loginAs('carol', 'correct horse');
    assert.equal(claims['aud'], 'my-demo');
  } finally {
    await idp.close();
  }
  // Generated passwords differ between starts.
  const [a, b] = await Promise.all([startDevIdentityProvider(), startDevIdentityProvider()]);
  try {
    assert.notEqual(a.accounts[0]?.password, b.accounts[0]?.password);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('the login page is a plain form; PKCE is required; only the registered redirect URI is served codes', async () => {
  const idp = await startDevIdentityProvider();
  try {
    const auth = (params: Record<string, string>): string =>
      `${idp.issuer}/auth?${new URLSearchParams({ client_id: idp.clientId, response_type: 'code', scope: 'openid', redirect_uri: idp.redirectUri, ...params })}`;
    const browser = new ScriptedBrowser(idp.redirectUri);
    const page = await browser.get(
      auth({ code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's' }),
    );
    assert.equal(page.status, 200);
    assert.match(page.url, /\/interaction\//);
    assert.match(page.body, /<input name="username"/);
    assert.match(page.body, /type="password"/);
    // No cookies, no interaction: a fresh browser cannot resume someone else's sign-in.
    assert.equal((await new ScriptedBrowser(idp.redirectUri).get(page.url)).status, 400);

    const noPkce = await new ScriptedBrowser(idp.redirectUri).get(auth({ state: 's' }));
    assert.ok(new ScriptedBrowser(idp.redirectUri).isStop(noPkce.url));
    assert.equal(new URL(noPkce.url).searchParams.get('error'), 'invalid_request');
    assert.match(new URL(noPkce.url).searchParams.get('error_description') ?? '', /PKCE/);

    const elsewhere = await new ScriptedBrowser(idp.redirectUri).get(
      auth({ redirect_uri: 'http://127.0.0.1/evil', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }),
    );
    assert.equal(elsewhere.status, 400);
  } finally {
    await idp.close();
  }
});

test('ES256 by default, RS256 on request; the JWKS holds only public keys', async () => {
  const idp = await startDevIdentityProvider({ idTokenSigningAlg: 'RS256' });
  try {
    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Array<Record<string, unknown>> };
    assert.deepEqual(jwks.keys.map((k) => k['alg']).sort(), ['ES256', 'RS256']);
    for (const k of jwks.keys) assert.equal(k['d'], undefined);
    const { idToken } = await idp.loginAs('bob');
    assert.equal(decodeProtectedHeader(idToken).alg, 'RS256');
  } finally {
    await idp.close();
  }
});

test('loopback only, and close() frees the port', async () => {
  await assert.rejects(startDevIdentityProvider({ host: '0.0.0.0' }), /loopback only/);
  await assert.rejects(startDevIdentityProvider({ redirectUri: 'https://demo.example/cb' }), /redirectUri/);
  await assert.rejects(startDevIdentityProvider({ redirectUri: 'http://localhost/cb' }), /redirectUri/);
  const idp = await startDevIdentityProvider({ port: 0 });
  const port = Number(new URL(idp.issuer).port);
  await idp.loginAs('alice'); // leaves keep-alive connections behind, which close() must drop
  await idp.close();
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  // And on a given port.
  const again = await startDevIdentityProvider({ port });
  assert.equal(again.issuer, `http://127.0.0.1:${port}`);
  await again.close();
});

test('IPv6 loopback gives a bracketed issuer that still verifies', async (t) => {
  let idp;
  try {
    idp = await startDevIdentityProvider({ host: '::1' });
  } catch {
    t.skip('no IPv6 loopback here');
    return;
  }
  try {
    assert.match(idp.issuer, /^http:\/\/\[::1\]:\d+$/);
    const { idToken } = await idp.loginAs('bob');
    const v = createUserTokenVerifier({
      listProviders: () => Promise.resolve([{ id: 'v6', issuer: idp.issuer, jwksUri: null, discovery: true, audience: idp.audience }]),
    });
    assert.equal((await v.verify(idToken, TOKEN_TYPE.idToken)).userId, 'v6:bob');
  } finally {
    await idp.close();
  }
});
