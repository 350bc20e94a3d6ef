/** RFC 9449 §7.1 / §9: the DPoP fetch against real loopback servers. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { decodeJwt, EmbeddedJWK, jwtVerify } from 'jose';
import { createDpopFetch, generateDpopKey, type DpopKey } from '@writ/agent';
import { headerValues, startServer, type LoopbackServer, type Recorded, type Reply } from './loopback-server.js';

const token = 'task.token.value';
const ath = createHash('sha256').update(token, 'ascii').digest('base64url');
const nonceChallenge = (nonce: string): Reply => ({
  status: 401,
  headers: {
    'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
    'dpop-nonce': nonce,
  },
  body: { error: 'use_dpop_nonce' },
});

let key: DpopKey;
let reply: (req: Recorded, index: number) => Reply;
let srv: LoopbackServer;
let other: LoopbackServer;

before(async () => {
  key = await generateDpopKey();
  srv = await startServer((req, i) => reply(req, i));
  other = await startServer(() => ({ status: 200, body: 'other' }));
});
after(async () => {
  await srv.close();
  await other.close();
});

function reset(r: (req: Recorded, index: number) => Reply): void {
  srv.requests.length = 0;
  reply = r;
}
const proofOf = (req: Recorded | undefined): Record<string, unknown> => decodeJwt(headerValues(req!, 'dpop')[0] ?? '');

test('each request carries Authorization: DPoP and a fresh proof for its method and URL', async () => {
  reset(() => ({ status: 200, body: 'ok' }));
  const f = createDpopFetch({ accessToken: token, key });
  const res = await f(`${srv.url}/r/api/v1/projects?limit=5#top`, { headers: { 'x-trace': 't1', authorization: 'Bearer stolen' } });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok');
  await f(`${srv.url}/r/api/v1/projects?limit=5`);
  const [req, again] = srv.requests;
  assert.ok(req && again);
  assert.equal(req.method, 'GET');
  assert.equal(req.url, '/r/api/v1/projects?limit=5', 'the query still reaches the server');
  assert.deepEqual(headerValues(req, 'authorization'), [`DPoP ${token}`], "the caller's Authorization is replaced, not doubled");
  assert.equal(req.headers['x-trace'], 't1', 'other headers pass through');
  const proofs = headerValues(req, 'dpop');
  assert.equal(proofs.length, 1);
  const { payload, protectedHeader } = await jwtVerify(proofs[0] ?? '', EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
  assert.deepEqual(protectedHeader.jwk, key.publicJwk);
  assert.equal(payload['htm'], 'GET');
  assert.equal(payload['htu'], `${srv.url}/r/api/v1/projects`);
  assert.equal(payload['ath'], ath);
  assert.equal(payload['nonce'], undefined);
  assert.notEqual(proofOf(again).jti, payload.jti, 'never the same proof twice');
});

test('the proof method is the wire method, whatever the spelling', async () => {
  reset(() => ({ status: 200 }));
  const f = createDpopFetch({ accessToken: token, key });
  await f(`${srv.url}/x`, { method: 'post', body: 'a' });
  await f(`${srv.url}/x`, { method: 'DELETE' });
  for (const req of srv.requests) assert.equal(proofOf(req).htm, req.method);
});

test('a use_dpop_nonce challenge is answered once with a new proof and the same body; the nonce is remembered per origin', async () => {
  reset((_req, i) => (i === 0 ? nonceChallenge('rs-nonce-1') : { status: 201, headers: { 'dpop-nonce': 'rs-nonce-2' }, body: 'created' }));
  const f = createDpopFetch({ accessToken: token, key });
  const res = await f(`${srv.url}/r/api/v1/items?draft=1`, {
    method: 'POST',
    body: '{"name":"x"}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 201);
  assert.equal(await res.text(), 'created');
  const [first, second] = srv.requests;
  assert.equal(srv.requests.length, 2);
  assert.equal(first?.body, '{"name":"x"}');
  assert.equal(second?.body, '{"name":"x"}', 'the body is sent again');
  assert.equal(second?.headers['content-type'], 'application/json');
  const p1 = proofOf(first);
  const p2 = proofOf(second);
  assert.equal(p1.nonce, undefined);
  assert.equal(p2.nonce, 'rs-nonce-1');
  assert.notEqual(p1.jti, p2.jti);
  assert.equal(p2.htm, 'POST');
  assert.equal(p2.htu, `${srv.url}/r/api/v1/items`);
  assert.equal(p2.ath, ath);

  // The nonce of the last answer is used at once on the next request to that origin, and nowhere else.
  reset(() => ({ status: 200 }));
  await f(`${srv.url}/r/api/v1/items`);
  assert.equal(srv.requests.length, 1);
  assert.equal(proofOf(srv.requests[0]).nonce, 'rs-nonce-2');
  await f(`${other.url}/x`);
  assert.equal(proofOf(other.requests.at(-1)).nonce, undefined, 'nonces are per origin');
});

test('Uint8Array and URLSearchParams bodies are replayed too', async () => {
  for (const body of [new TextEncoder().encode('bytes'), new URLSearchParams({ a: '1' })]) {
    reset((_req, i) => (i === 0 ? nonceChallenge(`n-${i}`) : { status: 200 }));
    const f = createDpopFetch({ accessToken: token, key });
    assert.equal((await f(`${srv.url}/x`, { method: 'PUT', body })).status, 200);
    assert.equal(srv.requests.length, 2);
    assert.equal(srv.requests[1]?.body, srv.requests[0]?.body);
    assert.ok((srv.requests[1]?.body ?? '').length > 0);
  }
});

test('a streamed body is not replayed: the challenge goes back to the caller, and the next call has the nonce', async () => {
  reset((_req, i) => (i === 0 ? nonceChallenge('n-stream') : { status: 200 }));
  const f = createDpopFetch({ accessToken: token, key });
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('once'));
      c.close();
    },
  });
  const res = await f(`${srv.url}/upload`, { method: 'POST', body: stream, duplex: 'half' });
  assert.equal(res.status, 401);
  assert.equal(srv.requests.length, 1);
  assert.equal(srv.requests[0]?.body, 'once');
  assert.equal((await f(`${srv.url}/upload`, { method: 'POST', body: 'again' })).status, 200);
  assert.equal(proofOf(srv.requests[1]).nonce, 'n-stream');
});

test('a Request object keeps its method, headers and body', async () => {
  reset(() => ({ status: 200 }));
  const f = createDpopFetch({ accessToken: token, key });
  const res = await f(new Request(`${srv.url}/r/api/doc?v=2`, { method: 'PUT', body: 'content', headers: { 'x-a': 'b' } }));
  assert.equal(res.status, 200);
  const req = srv.requests[0];
  assert.equal(req?.method, 'PUT');
  assert.equal(req?.body, 'content');
  assert.equal(req?.headers['x-a'], 'b');
  assert.equal(proofOf(req).htm, 'PUT');
  assert.equal(proofOf(req).htu, `${srv.url}/r/api/doc`);
});

test('no retry without a DPoP-Nonce header, for another error, or for a non-DPoP challenge', async () => {
  const f = createDpopFetch({ accessToken: token, key });
  const answers: Reply[] = [
    { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"' } },
    { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"', 'dpop-nonce': 'n' } },
    { status: 401, headers: { 'www-authenticate': 'Bearer error="use_dpop_nonce"', 'dpop-nonce': 'n' } },
    { status: 400, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n' } },
  ];
  for (const answer of answers) {
    reset(() => answer);
    assert.equal((await f(`${srv.url}/x`)).status, answer.status);
    assert.equal(srv.requests.length, 1, JSON.stringify(answer));
  }
  // And a second challenge in a row is returned, not chased.
  reset((_req, i) => nonceChallenge(`n${i}`));
  assert.equal((await f(`${srv.url}/x`)).status, 401);
  assert.equal(srv.requests.length, 2);
});
