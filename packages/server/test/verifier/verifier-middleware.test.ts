/**
 * Writ's verifier middleware against a real Writ, on every store: a service (Fastify with `@writ/verify/fastify`)
 * registered in Writ as a resource accepts a task token with its DPoP proof from the agent SDK, refuses it once the
 * task is revoked on Writ (waiting for the revocation's sequence on the feed, not for time), and a verifier started
 * after a revocation enforces it from its first call (catch-up). Until its feed is current it refuses (fail closed).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { createWritVerifier, type WritVerifier, type WritVerifierState } from '@writ/verify';
import { writFastify } from '@writ/verify/fastify';
import { describeEachStore } from '../helpers/stores.js';
import { startHarness, type Harness, type TestAgent } from '../helpers/writ-harness.js';

interface Service {
  url: string;
  verifier: WritVerifier;
  close(): Promise<void>;
}

/** A billing service on loopback behind the verifier; its public URL is its own loopback address. */
async function startService(h: Harness, feedToken = h.adminToken): Promise<Service> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const verifier = createWritVerifier({
    issuer: h.writ.publicUrl,
    audience: h.resourceUri('billing'),
    feedToken,
    now: h.clock.now,
    feed: { reconnectDelayMs: 50, maxReconnectDelayMs: 500 },
  });
  const app: FastifyInstance = Fastify({
    serverFactory: (handler) => {
      server.on('request', handler);
      return server;
    },
  });
  await app.register(writFastify, { verifier, publicUrl: url });
  app.get('/v1/invoices', async (req) => ({ sub: req.writ?.claims.sub, task: req.writ?.claims.task_id }));
  await app.ready();
  return {
    url,
    verifier,
    async close() {
      await verifier.close();
      server.closeAllConnections();
      await app.close();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function until(v: WritVerifier, p: (s: WritVerifierState) => boolean): Promise<WritVerifierState> {
  return new Promise((resolve) => {
    if (p(v.state)) return resolve(v.state);
    const off = v.onChange((s) => {
      if (!p(s)) return;
      off();
      resolve(s);
    });
  });
}

const DETAILS = [{ type: 'http' as const, actions: ['GET' as const], paths: ['/v1/*'] }];

describeEachStore('verifier middleware against a real Writ', (kind) => {
  let h: Harness;
  let agent: TestAgent;
  const services: Service[] = [];
  before(async () => {
    h = await startHarness(kind);
    await h.admin.post('/resources', { id: 'billing', baseUrl: 'http://127.0.0.1:9/unused' });
    await h.admin.post('/grants', {
      id: 'billing-read',
      policy: `permit (principal == Writ::Agent::"billing-agent", action == Writ::Action::"http", resource == Writ::Resource::"billing");`,
    });
    agent = await h.registerAgent('billing-agent');
  });
  after(async () => {
    for (const s of services) await s.close();
    await h?.close();
  });

  test('a valid call passes; after the task is revoked on Writ, the service refuses it', async () => {
    const svc = await startService(h);
    services.push(svc);
    await svc.verifier.whenReady();
    const task = await h.startTask(agent, { resource: 'billing', details: DETAILS });
    const ok = await task.fetch(`${svc.url}/v1/invoices`);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.deepEqual(await ok.json(), { sub: 'dev:alice', task: task.id });

    const rev = await h.admin.post<{ seq: number }>('/revocations', { target: { type: 'task', taskId: task.id }, reason: 'verifier e2e' });
    assert.ok(rev.seq > 0);
    await until(svc.verifier, (s) => s.lastSeq >= rev.seq);
    const refused = await task.fetch(`${svc.url}/v1/invoices`);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, 'ERR_REVOKED_TASK');
    assert.match(refused.headers.get('www-authenticate') ?? '', /^DPoP error="invalid_token"/);
  });

  test('a verifier started after a revocation enforces it (catch-up)', async () => {
    const task = await h.startTask(agent, { resource: 'billing', details: DETAILS });
    const rev = await h.admin.post<{ seq: number }>('/revocations', { target: { type: 'task', taskId: task.id }, reason: 'before start' });
    const svc = await startService(h);
    services.push(svc);
    await svc.verifier.whenReady();
    assert.ok(svc.verifier.state.lastSeq >= rev.seq);
    const refused = await task.fetch(`${svc.url}/v1/invoices`);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, 'ERR_REVOKED_TASK');
    // Another task of the same agent still works: the revocation hit that task only.
    const other = await h.startTask(agent, { resource: 'billing', details: DETAILS });
    assert.equal((await other.fetch(`${svc.url}/v1/invoices`)).status, 200);
  });

  test('a feed-only receiver credential follows the feed and can do nothing else; an SSF-only one cannot follow it', async () => {
    const feedOnly = await h.admin.post<{ token: string }>('/ssf/receivers', {
      name: 'billing verifier',
      audience: h.resourceUri('billing'),
      scopes: ['writ.revocation_feed'],
    });
    const svc = await startService(h, feedOnly.token);
    services.push(svc);
    await svc.verifier.whenReady();
    const task = await h.startTask(agent, { resource: 'billing', details: DETAILS });
    assert.equal((await task.fetch(`${svc.url}/v1/invoices`)).status, 200);
    const streams = await fetch(`${h.writ.url}/ssf/v1/streams`, { headers: { authorization: `Bearer ${feedOnly.token}` } });
    assert.equal(streams.status, 403, 'no SSF scope');
    const admin = await fetch(`${h.writ.url}/admin/v1/agents`, { headers: { authorization: `Bearer ${feedOnly.token}` } });
    assert.equal(admin.status, 401, 'not an admin token');

    const ssfOnly = await h.admin.post<{ token: string }>('/ssf/receivers', { name: 'ssf only', audience: 'https://rx.example' });
    const feed = await fetch(`${h.writ.url}/revocation/v1/events`, {
      headers: { authorization: `Bearer ${ssfOnly.token}`, accept: 'text/event-stream' },
    });
    assert.equal(feed.status, 401);
    await feed.body?.cancel();
  });

  test('without a current feed (a refused feed token) the service refuses with 503 ERR_NOT_READY', async () => {
    const svc = await startService(h, 'not-an-admin-token-0123456789');
    services.push(svc);
    await until(svc.verifier, (s) => s.lastError !== null && s.keysLoaded);
    const task = await h.startTask(agent, { resource: 'billing', details: DETAILS });
    const res = await task.fetch(`${svc.url}/v1/invoices`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { code: string }).code, 'ERR_NOT_READY');
  });
});
