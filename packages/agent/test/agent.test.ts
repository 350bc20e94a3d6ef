/** The agent SDK: proofs and assertions checked with jose; token exchange and the DPoP fetch against a real loopback server. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, EmbeddedJWK, generateKeyPair, jwtVerify, exportJWK } from 'jose';
import * as agentSdk from '@writ/agent';
import {
  createClientAssertion,
  createDpopFetch,
  createDpopProof,
  exchangeToken,
  generateDpopKey,
  parseWwwAuthenticate,
  TokenExchangeError,
  WritAgent,
} from '@writ/agent';

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

test('DPoP proofs are RFC 9449 §4.2 proofs', async () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    const key = await generateDpopKey(alg);
    assert.equal(key.jkt, await calculateJwkThumbprint(key.publicJwk));
    assert.equal('d' in key.publicJwk, false);
    const token = 'access.token.value';
    const proof = await createDpopProof(key, { htm: 'get', htu: 'https://writ.example/r/api/x?q=1#f', accessToken: token, nonce: 'n1' });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [alg] });
    assert.equal(protectedHeader.alg, alg);
    assert.equal('d' in (protectedHeader.jwk ?? {}), false);
    assert.equal(payload['htm'], 'GET');
    assert.equal(payload['htu'], 'https://writ.example/r/api/x');
    assert.equal(payload['ath'], createHash('sha256').update(token).digest('base64url'));
    assert.equal(payload['nonce'], 'n1');
    assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16);
    const again = decodeJwt(await createDpopProof(key, { htm: 'GET', htu: 'https://writ.example/' }));
    assert.notEqual(again.jti, payload.jti);
  }
});

test('client assertions are RFC 7523 private_key_jwt assertions', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const a = await createClientAssertion({ clientId: 'agent-a', audience: 'https://writ.example/oauth2/token', key: privateKey, kid: 'k1' });
  const { payload, protectedHeader } = await jwtVerify(a, publicKey, {
    issuer: 'agent-a',
    subject: 'agent-a',
    audience: 'https://writ.example/oauth2/token',
  });
  assert.equal(protectedHeader.kid, 'k1');
  assert.ok(typeof payload.jti === 'string');
  assert.ok((payload.exp as number) - (payload.iat as number) <= 60);
});

test('exchangeToken sends RFC 8693 parameters, retries once on use_dpop_nonce, and refuses an unbound token', async () => {
  const { privateKey } = await generateKeyPair('ES256');
  const dpopKey = await generateDpopKey();
  const seen: Array<{ form: URLSearchParams; proof: string }> = [];
  let unbound = false;
  const srv = await serve((req, body, res) => {
    const form = new URLSearchParams(body);
    const proof = String(req.headers.dpop);
    seen.push({ form, proof });
    if (seen.length === 1) {
      res.writeHead(400, { 'content-type': 'application/json', 'dpop-nonce': 'server-nonce' }).end('{"error":"use_dpop_nonce"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        access_token: 'tok',
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: unbound ? 'Bearer' : 'DPoP',
        expires_in: 600,
        authorization_details: [],
        task_id: 'task_1',
      }),
    );
  });
  try {
    const r = await exchangeToken({
      issuer: srv.url,
      clientId: 'agent-a',
      clientKey: privateKey,
      dpopKey,
      subjectToken: 'user.jwt',
      resource: `${srv.url}/r/api`,
      authorizationDetails: [{ type: 'http', actions: ['GET'], paths: ['/x'] }],
      purpose: 'p',
    });
    assert.equal(r.task_id, 'task_1');
    assert.equal(seen.length, 2);
    const f = seen[1]?.form as URLSearchParams;
    assert.equal(f.get('grant_type'), 'urn:ietf:params:oauth:grant-type:token-exchange');
    assert.equal(f.get('subject_token'), 'user.jwt');
    assert.equal(f.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:jwt');
    assert.equal(f.get('resource'), `${srv.url}/r/api`);
    assert.deepEqual(JSON.parse(f.get('authorization_details') ?? ''), [{ type: 'http', actions: ['GET'], paths: ['/x'] }]);
    assert.equal(f.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    assert.notEqual(seen[0]?.form.get('client_assertion'), f.get('client_assertion'), 'a fresh assertion on retry');
    assert.equal(decodeJwt(seen[1]?.proof ?? '').nonce, 'server-nonce');
    assert.equal(decodeJwt(seen[1]?.proof ?? '').htu, `${srv.url}/oauth2/token`);
    unbound = true;
    seen.length = 1;
    await assert.rejects(
      exchangeToken({ issuer: srv.url, clientId: 'agent-a', clientKey: privateKey, dpopKey, subjectToken: 'u' }),
      (e: unknown) => e instanceof TokenExchangeError && e.error === 'invalid_response',
    );
  } finally {
    srv.close();
  }
});

test('the DPoP fetch sends a fresh proof per request and retries once on a resource nonce challenge', async () => {
  const key = await generateDpopKey();
  const proofs: string[] = [];
  const srv = await serve((req, _body, res) => {
    proofs.push(String(req.headers.dpop));
    assert.equal(req.headers.authorization, 'DPoP tok');
    if (proofs.length === 1) {
      res
        .writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="nonce required"', 'dpop-nonce': 'rs-nonce' })
        .end();
      return;
    }
    res.writeHead(200).end('ok');
  });
  try {
    const f = createDpopFetch({ accessToken: 'tok', key });
    const res = await f(`${srv.url}/r/api/x?y=1`, { method: 'POST', body: 'hello' });
    assert.equal(res.status, 200);
    assert.equal(proofs.length, 2);
    const second = decodeJwt(proofs[1] ?? '');
    assert.equal(second.nonce, 'rs-nonce');
    assert.equal(second.htm, 'POST');
    assert.equal(second.htu, `${srv.url}/r/api/x`);
    assert.notEqual(decodeJwt(proofs[0] ?? '').jti, second.jti);
  } finally {
    srv.close();
  }
});

test('WritAgent starts and completes a task', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  void (await exportJWK(publicKey));
  let completed = false;
  const srv = await serve((req, _body, res) => {
    if (req.url === '/oauth2/token') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          access_token: 'tok',
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: 'DPoP',
          expires_in: 600,
          authorization_details: [{ type: 'http', actions: ['GET'], paths: ['/x'] }],
          task_id: 'task_9',
        }),
      );
    } else if (req.url === '/agent/v1/task/complete') {
      completed = req.headers.authorization === 'DPoP tok' && decodeProtectedHeader(String(req.headers.dpop)).typ === 'dpop+jwt';
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } else res.writeHead(404).end();
  });
  try {
    const agent = new WritAgent({ issuer: srv.url, agentId: 'a', clientKey: privateKey });
    const task = await agent.startTask({
      subjectToken: 'u',
      resource: `${srv.url}/r/api`,
      authorizationDetails: [{ type: 'http', actions: ['GET'], paths: ['/x'] }],
      purpose: 'p',
    });
    assert.equal(task.id, 'task_9');
    await task.complete();
    assert.equal(completed, true);
  } finally {
    srv.close();
  }
});

test('parseWwwAuthenticate reads schemes and parameters', () => {
  assert.deepEqual(parseWwwAuthenticate('DPoP error="use_dpop_nonce", error_description="a, b", algs="ES256 EdDSA"'), [
    { scheme: 'DPoP', params: { error: 'use_dpop_nonce', error_description: 'a, b', algs: 'ES256 EdDSA' } },
  ]);
  assert.deepEqual(
    parseWwwAuthenticate('Bearer realm="x", DPoP algs="ES256"').map((c) => c.scheme),
    ['Bearer', 'DPoP'],
  );
  assert.deepEqual(parseWwwAuthenticate(null), []);
});

test('@writ/agent exports exactly its public API', () => {
  assert.deepEqual(Object.keys(agentSdk).sort(), [
    'TaskCompletionError',
    'TokenExchangeError',
    'WritAgent',
    'createClientAssertion',
    'createDpopFetch',
    'createDpopProof',
    'exchangeToken',
    'generateDpopKey',
    'parseWwwAuthenticate',
  ]);
});
