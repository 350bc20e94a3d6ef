/** WritAgent: start a task, call a tool, complete the task — against a loopback server speaking Writ's wire protocol. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, EmbeddedJWK, generateKeyPair, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { generateDpopKey, TaskCompletionError, TokenExchangeError, WritAgent } from '@writ/agent';
import { headerValues, startServer, tokenAnswer, type LoopbackServer, type Recorded, type Reply } from './loopback-server.js';

const granted = [{ type: 'http' as const, actions: ['GET' as const], paths: ['/v1/projects'] }];
let clientKey: CryptoKey;
let clientPublic: CryptoKey;
let srv: LoopbackServer;
let completeReply: Reply;
let tokenCount = 0;

before(async () => {
  ({ privateKey: clientKey, publicKey: clientPublic } = await generateKeyPair('ES256'));
  // Like Writ: the first token request gets a nonce challenge, every answer carries the current nonce.
  srv = await startServer((req) => {
    const nonce = { 'dpop-nonce': 'nonce-current' };
    if (req.url === '/oauth2/token') {
      tokenCount++;
      if (decodeJwt(headerValues(req, 'dpop')[0] ?? '').nonce !== 'nonce-current') {
        return { status: 400, headers: nonce, body: { error: 'use_dpop_nonce', error_description: 'nonce required' } };
      }
      return {
        status: 200,
        headers: nonce,
        body: tokenAnswer({ access_token: `token-${tokenCount}`, task_id: `task_${tokenCount}`, authorization_details: granted }),
      };
    }
    if (req.url === '/agent/v1/task/complete') return { ...completeReply, headers: nonce };
    if (req.url.startsWith('/r/api/')) return { status: 200, headers: nonce, body: { projects: [] } };
    return { status: 404 };
  });
});
after(() => srv.close());

function since(n: number): Recorded[] {
  return srv.requests.slice(n);
}

test('startTask exchanges the user token for a DPoP-bound task token; the task fetch and complete() use it', async () => {
  completeReply = { status: 200, body: { task_id: 'x', status: 'completed' } };
  const dpopKey = await generateDpopKey('EdDSA');
  const agent = new WritAgent({ issuer: `${srv.url}/`, agentId: 'agent-a', clientKey, clientKid: 'k1', dpopKey });
  assert.equal(await agent.dpopKey(), dpopKey);
  const n = srv.requests.length;
  const before = Math.floor(Date.now() / 1000);
  const task = await agent.startTask({
    subjectToken: 'alice.id.token',
    subjectTokenType: 'urn:ietf:params:oauth:token-type:id_token',
    resource: `${srv.url}/r/api`,
    authorizationDetails: [{ type: 'http', actions: ['GET', 'DELETE'], paths: ['/v1/projects'] }],
    purpose: 'weekly report',
  });
  assert.match(task.id, /^task_\d+$/);
  assert.match(task.token, /^token-\d+$/);
  assert.deepEqual(task.authorizationDetails, granted, 'what was granted, not what was asked');
  assert.ok(task.expiresAt >= before + 600 && task.expiresAt <= Math.floor(Date.now() / 1000) + 600);

  const exchange = since(n);
  assert.equal(exchange.length, 2, 'one nonce challenge, one retry');
  const last = exchange[1];
  assert.ok(last);
  const form = new URLSearchParams(last.body);
  assert.equal(form.get('client_id'), 'agent-a');
  assert.equal(form.get('subject_token'), 'alice.id.token');
  assert.equal(form.get('resource'), `${srv.url}/r/api`);
  assert.equal(form.get('purpose'), 'weekly report');
  assert.deepEqual(JSON.parse(form.get('authorization_details') ?? 'null'), [
    { type: 'http', actions: ['GET', 'DELETE'], paths: ['/v1/projects'] },
  ]);
  await jwtVerify(form.get('client_assertion') ?? '', clientPublic, {
    issuer: 'agent-a',
    subject: 'agent-a',
    audience: `${srv.url}/oauth2/token`,
  });
  const tokenProof = await jwtVerify(headerValues(last, 'dpop')[0] ?? '', EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['EdDSA'] });
  assert.equal(await calculateJwkThumbprint(tokenProof.protectedHeader.jwk as JWK), dpopKey.jkt, 'the token is requested for this key');

  // The tool call: the nonce from the token answer is used at once (one request, no challenge).
  const m = srv.requests.length;
  const res = await task.fetch(`${srv.url}/r/api/v1/projects`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { projects: [] });
  const call = since(m);
  assert.equal(call.length, 1);
  assert.deepEqual(headerValues(call[0]!, 'authorization'), [`DPoP ${task.token}`]);
  const callProof = decodeJwt(headerValues(call[0]!, 'dpop')[0] ?? '');
  assert.equal(callProof.nonce, 'nonce-current');
  assert.equal(callProof.ath, createHash('sha256').update(task.token).digest('base64url'));

  // complete(): POST to the agent API with the task token and a proof for that URL.
  const k = srv.requests.length;
  await task.complete();
  await task.complete();
  const done = since(k);
  assert.equal(done.length, 1, 'completing twice sends one request');
  const req = done[0];
  assert.ok(req);
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/agent/v1/task/complete');
  assert.deepEqual(headerValues(req, 'authorization'), [`DPoP ${task.token}`]);
  const proof = await jwtVerify(headerValues(req, 'dpop')[0] ?? '', EmbeddedJWK, { typ: 'dpop+jwt' });
  assert.equal(proof.payload['htm'], 'POST');
  assert.equal(proof.payload['htu'], `${srv.url}/agent/v1/task/complete`);
  assert.equal(proof.payload['ath'], createHash('sha256').update(task.token).digest('base64url'));
});

test('complete() accepts 204 and turns anything else into a TaskCompletionError', async () => {
  const agent = new WritAgent({ issuer: srv.url, agentId: 'agent-a', clientKey });
  const start = (): ReturnType<WritAgent['startTask']> =>
    agent.startTask({ subjectToken: 'u', resource: `${srv.url}/r/api`, authorizationDetails: granted, purpose: 'p' });

  completeReply = { status: 204 };
  await (await start()).complete();

  completeReply = {
    status: 401,
    body: { error: 'invalid_token', error_description: 'task is no longer active', code: 'ERR_REVOKED_TASK' },
  };
  const task = await start();
  const check = (e: unknown): boolean => {
    assert.ok(e instanceof TaskCompletionError);
    assert.deepEqual(
      [e.status, e.error, e.error_description, e.code],
      [401, 'invalid_token', 'task is no longer active', 'ERR_REVOKED_TASK'],
    );
    return true;
  };
  await assert.rejects(task.complete(), check);
  await assert.rejects(task.complete(), check, 'a failed completion can be tried again (and is sent again)');

  completeReply = { status: 202, body: 'accepted?' };
  await assert.rejects(
    (await start()).complete(),
    (e: unknown) => e instanceof TaskCompletionError && e.status === 202 && e.code === undefined,
  );
});

test('without a DPoP key the agent generates one, once, even under concurrent first use', async () => {
  const agent = new WritAgent({ issuer: srv.url, agentId: 'agent-b', clientKey });
  const n = srv.requests.length;
  const opts = { subjectToken: 'u', resource: `${srv.url}/r/api`, authorizationDetails: granted, purpose: 'p' };
  const [a, b] = await Promise.all([agent.startTask(opts), agent.startTask(opts)]);
  assert.notEqual(a.token, b.token);
  const key = await agent.dpopKey();
  const thumbprints = new Set<string>();
  for (const req of since(n)) {
    const { protectedHeader } = await jwtVerify(headerValues(req, 'dpop')[0] ?? '', EmbeddedJWK, { algorithms: ['ES256'] });
    thumbprints.add(await calculateJwkThumbprint(protectedHeader.jwk as JWK));
  }
  assert.deepEqual([...thumbprints], [key.jkt]);
});

test('a refused exchange surfaces as TokenExchangeError', async () => {
  const refusing = await startServer(() => ({
    status: 400,
    body: { error: 'invalid_authorization_details', error_description: 'not granted' },
  }));
  try {
    const agent = new WritAgent({ issuer: refusing.url, agentId: 'agent-a', clientKey });
    await assert.rejects(
      agent.startTask({ subjectToken: 'u', resource: `${refusing.url}/r/api`, authorizationDetails: granted, purpose: 'p' }),
      (e: unknown) => e instanceof TokenExchangeError && e.error === 'invalid_authorization_details' && e.status === 400,
    );
  } finally {
    await refusing.close();
  }
});
