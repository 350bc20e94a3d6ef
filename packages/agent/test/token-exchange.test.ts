/** RFC 8693 token exchange against a real loopback server: form parameters, headers, nonce retry, response checks. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeJwt, EmbeddedJWK, generateKeyPair, jwtVerify, type CryptoKey } from 'jose';
import { exchangeToken, generateDpopKey, TokenExchangeError, type DpopKey, type ExchangeTokenOptions } from '@writ/agent';
import { headerValues, startServer, tokenAnswer, type LoopbackServer, type Reply } from './loopback-server.js';

let clientKey: CryptoKey;
let clientPublic: CryptoKey;
let dpopKey: DpopKey;
let reply: (index: number) => Reply;
let srv: LoopbackServer;

before(async () => {
  ({ privateKey: clientKey, publicKey: clientPublic } = await generateKeyPair('ES256'));
  dpopKey = await generateDpopKey();
  srv = await startServer((_req, i) => reply(i));
});
after(() => srv.close());

function opts(extra: Partial<ExchangeTokenOptions> = {}): ExchangeTokenOptions {
  return { issuer: srv.url, clientId: 'agent-a', clientKey, clientKid: 'k1', dpopKey, subjectToken: 'user.id.token', ...extra };
}
function reset(r: (index: number) => Reply): void {
  srv.requests.length = 0;
  reply = r;
}

test('sends every RFC 8693 / 8707 / 9396 parameter, authenticates with private_key_jwt and proves possession', async () => {
  reset(() => ({ status: 200, body: tokenAnswer({ scope: 'projects:read' }) }));
  const details = [{ type: 'http' as const, actions: ['GET' as const], paths: ['/v1/projects', '/v1/projects/*'] }];
  const res = await exchangeToken(
    opts({
      subjectTokenType: 'urn:ietf:params:oauth:token-type:id_token',
      actorToken: 'workload.jwt',
      resource: `${srv.url}/r/api`,
      audience: 'api',
      authorizationDetails: details,
      scope: 'projects:read',
      purpose: "list alice's projects",
    }),
  );
  assert.deepEqual(res, tokenAnswer({ scope: 'projects:read' }));
  assert.equal(srv.requests.length, 1);
  const req = srv.requests[0];
  assert.ok(req);
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/oauth2/token');
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  const form = new URLSearchParams(req.body);
  assert.deepEqual([...new Set(form.keys())].sort(), [
    'actor_token',
    'actor_token_type',
    'audience',
    'authorization_details',
    'client_assertion',
    'client_assertion_type',
    'client_id',
    'grant_type',
    'purpose',
    'resource',
    'scope',
    'subject_token',
    'subject_token_type',
  ]);
  assert.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:token-exchange');
  assert.equal(form.get('subject_token'), 'user.id.token');
  assert.equal(form.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:id_token');
  assert.equal(form.get('actor_token'), 'workload.jwt');
  assert.equal(form.get('actor_token_type'), 'urn:ietf:params:oauth:token-type:jwt');
  assert.equal(form.get('resource'), `${srv.url}/r/api`);
  assert.equal(form.get('audience'), 'api');
  assert.deepEqual(JSON.parse(form.get('authorization_details') ?? 'null'), details);
  assert.equal(form.get('scope'), 'projects:read');
  assert.equal(form.get('purpose'), "list alice's projects");
  assert.equal(form.get('client_id'), 'agent-a');
  assert.equal(form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');

  const endpoint = `${srv.url}/oauth2/token`;
  const assertion = await jwtVerify(form.get('client_assertion') ?? '', clientPublic, {
    issuer: 'agent-a',
    subject: 'agent-a',
    audience: endpoint,
  });
  assert.equal(assertion.protectedHeader.kid, 'k1');

  const proofs = headerValues(req, 'dpop');
  assert.equal(proofs.length, 1, 'exactly one DPoP header');
  const proof = await jwtVerify(proofs[0] ?? '', EmbeddedJWK, { typ: 'dpop+jwt' });
  assert.equal(proof.payload['htm'], 'POST');
  assert.equal(proof.payload['htu'], endpoint);
  assert.equal(proof.payload['ath'], undefined, 'no access token is presented at the token endpoint');
  assert.equal(proof.payload['nonce'], undefined);
  assert.equal(headerValues(req, 'authorization').length, 0, 'the client authenticates in the body, not with a header');
});

test('minimal request: default subject_token_type, no optional parameters; issuer trailing slash ignored', async () => {
  reset(() => ({ status: 200, body: tokenAnswer() }));
  await exchangeToken(opts({ issuer: `${srv.url}/` }));
  const req = srv.requests[0];
  assert.equal(req?.url, '/oauth2/token');
  const form = new URLSearchParams(req?.body);
  assert.equal(form.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:jwt');
  for (const absent of ['actor_token', 'actor_token_type', 'resource', 'audience', 'authorization_details', 'scope', 'purpose']) {
    assert.equal(form.has(absent), false, absent);
  }
  await assert.rejects(exchangeToken(opts({ actorTokenType: 'urn:ietf:params:oauth:token-type:jwt' })), TypeError);
});

test('answers use_dpop_nonce once: new proof with the nonce, new client assertion; remembers the next nonce', async () => {
  reset((i) =>
    i === 0
      ? { status: 400, headers: { 'dpop-nonce': 'nonce-1' }, body: { error: 'use_dpop_nonce', error_description: 'nonce required' } }
      : { status: 200, headers: { 'dpop-nonce': 'nonce-2' }, body: tokenAnswer() },
  );
  const nonces = new Map<string, string>();
  const res = await exchangeToken(opts({ nonces }));
  assert.equal(res.task_id, 'task_1');
  assert.equal(srv.requests.length, 2);
  const [first, second] = srv.requests;
  const p1 = decodeJwt(headerValues(first!, 'dpop')[0] ?? '');
  const p2 = decodeJwt(headerValues(second!, 'dpop')[0] ?? '');
  assert.equal(p1.nonce, undefined);
  assert.equal(p2.nonce, 'nonce-1');
  assert.notEqual(p1.jti, p2.jti, 'a new proof');
  const a1 = new URLSearchParams(first!.body).get('client_assertion');
  const a2 = new URLSearchParams(second!.body).get('client_assertion');
  assert.notEqual(decodeJwt(a1 ?? '').jti, decodeJwt(a2 ?? '').jti, 'a new client assertion');
  assert.equal(nonces.get(srv.url), 'nonce-2', 'the nonce handed out with the token is kept for next time');

  // The next exchange uses it straight away: one request, no refusal.
  reset(() => ({ status: 200, body: tokenAnswer() }));
  await exchangeToken(opts({ nonces }));
  assert.equal(srv.requests.length, 1);
  assert.equal(decodeJwt(headerValues(srv.requests[0]!, 'dpop')[0] ?? '').nonce, 'nonce-2');
});

test('a second use_dpop_nonce, or one without a DPoP-Nonce header, is an error, not a loop', async () => {
  reset(() => ({ status: 400, headers: { 'dpop-nonce': 'again' }, body: { error: 'use_dpop_nonce' } }));
  await assert.rejects(
    exchangeToken(opts()),
    (e: unknown) => e instanceof TokenExchangeError && e.error === 'use_dpop_nonce' && e.status === 400,
  );
  assert.equal(srv.requests.length, 2);

  reset(() => ({ status: 400, body: { error: 'use_dpop_nonce' } }));
  await assert.rejects(exchangeToken(opts()), TokenExchangeError);
  assert.equal(srv.requests.length, 1);
});

test('a token that is not DPoP-bound is discarded (RFC 9449 §5)', async () => {
  for (const token_type of ['Bearer', 'bearer', undefined, 'N_A']) {
    reset(() => ({ status: 200, body: tokenAnswer({ token_type }) }));
    await assert.rejects(exchangeToken(opts()), (e: unknown) => {
      assert.ok(e instanceof TokenExchangeError);
      assert.equal(e.error, 'invalid_response');
      assert.equal(e.status, 200);
      assert.match(e.error_description ?? '', /not DPoP/);
      assert.doesNotMatch(e.message, /task\.token\.value/, 'the discarded token does not leak into the error');
      return true;
    });
  }
  reset(() => ({ status: 200, body: tokenAnswer({ token_type: 'dpop' }) }));
  assert.equal((await exchangeToken(opts())).token_type, 'DPoP', 'token_type is case-insensitive (RFC 6749 §5.1)');
});

test('OAuth errors become TokenExchangeError with error, error_description and status', async () => {
  reset(() => ({ status: 400, body: { error: 'invalid_target', error_description: 'unknown resource' } }));
  await assert.rejects(exchangeToken(opts()), (e: unknown) => {
    assert.ok(e instanceof TokenExchangeError);
    assert.equal(e.name, 'TokenExchangeError');
    assert.deepEqual([e.error, e.error_description, e.status], ['invalid_target', 'unknown resource', 400]);
    return true;
  });
  reset(() => ({ status: 401, body: { error: 'invalid_client' } }));
  await assert.rejects(
    exchangeToken(opts()),
    (e: unknown) => e instanceof TokenExchangeError && e.error === 'invalid_client' && e.error_description === undefined,
  );
  reset(() => ({ status: 502, headers: { 'content-type': 'text/html' }, body: '<html>bad gateway</html>' }));
  await assert.rejects(
    exchangeToken(opts()),
    (e: unknown) => e instanceof TokenExchangeError && e.error === 'invalid_response' && e.status === 502,
  );
  reset(() => ({ status: 302, headers: { location: 'https://elsewhere.example/steal' } }));
  await assert.rejects(
    exchangeToken(opts()),
    (e: unknown) => e instanceof TokenExchangeError && e.status === 302,
    'redirects are not followed',
  );
});

test('incomplete success answers are refused rather than trusted', async () => {
  for (const broken of [
    { task_id: undefined },
    { access_token: '' },
    { expires_in: '600' },
    { authorization_details: null },
    { issued_token_type: 'urn:x' },
  ]) {
    reset(() => ({ status: 200, body: tokenAnswer(broken) }));
    await assert.rejects(
      exchangeToken(opts()),
      (e: unknown) => e instanceof TokenExchangeError && e.error === 'invalid_response',
      JSON.stringify(broken),
    );
  }
  reset(() => ({ status: 200, body: '[]' }));
  await assert.rejects(exchangeToken(opts()), TokenExchangeError);
});

test('the fetch is injectable', async () => {
  reset(() => ({ status: 200, body: tokenAnswer() }));
  const seen: string[] = [];
  const spy: typeof fetch = async (input, init) => {
    seen.push(String(input));
    return fetch(input, init);
  };
  await exchangeToken(opts({ fetch: spy }));
  assert.deepEqual(seen, [`${srv.url}/oauth2/token`]);
});
