/**
 * Revocation across a cluster of real processes on one PostgreSQL: one control node and three gateway nodes, each
 * `writ serve` in its own process. A revocation made on the control node is enforced by every gateway node and by a
 * service using the verifier middleware; a gateway whose database connection is cut catches up when it reconnects;
 * a gateway started after a revocation enforces it from its first call; a gateway that cannot confirm it is current
 * within its bound refuses calls and says why; DPoP replay is caught across nodes; register changes reach every node;
 * each role serves only its own paths.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import pg from 'pg';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createWritVerifier, type WritVerifier } from '@writ/verify';
import { writFastify } from '@writ/verify/fastify';
import { TEST_DATABASE_URL } from '../helpers/stores.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startPushReceiver } from '../ssf/ssf-helpers.js';
import { startMcpTestUpstream } from '../helpers/mcp-test-upstream.js';
import { eventually, startCluster, READ, type Cluster } from './cluster-fixture.js';
import type { WritProcess } from '../helpers/writ-process.js';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

const skip = TEST_DATABASE_URL === undefined ? 'WRIT_TEST_DATABASE_URL not set: the cluster suite needs PostgreSQL (SKIPPED)' : false;
if (skip !== false) console.log(`!!! ${skip}`);

describe('cluster: 1 control + 3 gateway processes on one PostgreSQL', { skip, timeout: 180_000 }, () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster(TEST_DATABASE_URL as string, { gateways: 3, proxiedCluster: { maxStalenessMs: 1_000 } });
  });
  after(async () => {
    await c?.close();
  });

  const revokeTask = (taskId: string, reason: string): Promise<{ seq: number }> =>
    c.admin.post<{ seq: number }>('/revocations', { target: { type: 'task', taskId }, reason });

  test('every node says its role and that it is current', async () => {
    for (const n of [c.control, ...c.gateways]) {
      const r = await c.readyz(n);
      assert.equal(r.status, 200, `${n.name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.checks.revocation.mode, 'cluster');
      assert.equal(r.body.checks.revocation.state, 'current');
      assert.equal(r.body.checks.cluster.node_id, n.name);
      assert.equal(typeof r.body.checks.revocation.lag_ms, 'number');
    }
    assert.equal((await c.readyz(c.control)).body.checks.cluster.role, 'control');
    assert.equal((await c.readyz(c.gateways[0]!)).body.checks.cluster.role, 'gateway');
    const metrics = await (await fetch(`${c.gateways[0]!.url}/metrics`)).text();
    assert.match(metrics, /^writ_revocation_lag_ms \d+/m);
    assert.match(metrics, /^writ_revocation_current 1$/m);
  });

  test("the overview shows every node's own revocation freshness, as each reported it", async () => {
    const names = [c.control, ...c.gateways].map((n) => n.name).sort();
    type Reported = { nodeId: string; role: string; state: string; lagMs: number | null; silent: boolean };
    const current = (o: { nodes: Reported[] | null }): Reported[] =>
      (o.nodes ?? []).filter((n) => names.includes(n.nodeId) && n.state === 'current' && !n.silent);
    const overview = await eventually(
      () => c.admin.get<{ nodes: Reported[] | null }>('/overview'),
      (o) => current(o).length === names.length,
      'every node reporting current',
    );
    const nodes = current(overview);
    assert.deepEqual(nodes.map((n) => n.nodeId).sort(), names);
    assert.equal(nodes.find((n) => n.nodeId === c.control.name)?.role, 'control');
    assert.ok(nodes.every((n) => typeof n.lagMs === 'number'));
  });

  test('each role serves only its own paths', async () => {
    const t = await c.task();
    const atControl = await c.call(c.control, t.token);
    assert.deepEqual(atControl, { status: 404, code: 'ERR_ROLE_NOT_SERVED' });
    const g = c.gateways[0]!;
    for (const [method, path] of [
      ['POST', '/oauth2/token'],
      ['GET', '/admin/v1/agents'],
      ['GET', '/revocation/v1/events'],
      ['GET', '/console/'],
    ] as const) {
      const res = await fetch(`${g.url}${path}`, { method, headers: { authorization: `Bearer ${c.adminToken}` } });
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { code: string }).code, 'ERR_ROLE_NOT_SERVED', path);
    }
    assert.equal((await fetch(`${g.url}/.well-known/jwks.json`)).status, 200, 'JWKS is served everywhere');
    // Every refusal is audited, by the node that refused, into the one shared log.
    type Row = { type: string; reason: string; data: { path?: string; node?: string } };
    for (const [type, path, node] of [
      ['call.denied', '/r/api/v1/projects', 'control'],
      ['token.denied', '/oauth2/token', g.name],
      ['admin.denied', '/admin/v1/agents', g.name],
      ['call.denied', '/revocation/v1/events', g.name],
    ] as const)
      await eventually(
        () => c.admin.get<Row[]>(`/audit?type=${type}&limit=1000`),
        (rows) => rows.some((r) => r.reason === 'ERR_ROLE_NOT_SERVED' && r.data.path === path && r.data.node === node),
        `${type} ${path} audited by ${node}`,
      );
  });

  test('a revocation issued on the control node is enforced by every gateway node and by a verifier service', async () => {
    const svc = await startService(c);
    try {
      await svc.verifier.whenReady();
      const t = await c.task();
      const billing = await c.task(READ, 'billing');
      for (const g of c.gateways) assert.equal((await c.call(g, t.token)).status, 200, g.name);
      assert.equal((await svc.call(billing.token)).status, 200);

      const rev = await revokeTask(t.id, 'cluster test');
      const revBilling = await revokeTask(billing.id, 'cluster test');
      for (const g of c.gateways) {
        await eventually(
          () => c.readyz(g),
          (r) => r.body.checks.revocation.last_seq >= rev.seq,
          `${g.name} applies seq ${rev.seq}`,
        );
        assert.deepEqual(await c.call(g, t.token), { status: 401, code: 'ERR_REVOKED_TASK' }, g.name);
      }
      await eventually(
        async () => svc.verifier.state.lastSeq,
        (s) => s >= revBilling.seq,
        'verifier applies the revocation',
      );
      assert.deepEqual(await svc.call(billing.token), { status: 401, code: 'ERR_REVOKED_TASK' });
    } finally {
      await svc.close();
    }
  });

  test('a tool killed on the control node is refused by every gateway node and the verifier service, until lifted', async () => {
    const svc = await startService(c);
    try {
      await svc.verifier.whenReady();
      const t = await c.task();
      const billing = await c.task(READ, 'billing');
      const kill = await c.admin.post<{ seq: number }>('/revocations', {
        target: { type: 'tool', resourceId: 'api', tool: 'get /v1/*' },
        reason: 'cluster tool kill',
      });
      const killBilling = await c.admin.post<{ seq: number }>('/revocations', {
        target: { type: 'tool', resourceId: 'billing', tool: 'GET /v1/**' },
        reason: 'cluster tool kill',
      });
      const applied = async (seq: number): Promise<void> => {
        for (const g of c.gateways)
          await eventually(
            () => c.readyz(g),
            (r) => r.body.checks.revocation.last_seq >= seq,
            `${g.name} applies seq ${seq}`,
          );
        await eventually(
          async () => svc.verifier.state.lastSeq,
          (s) => s >= seq,
          `the verifier applies seq ${seq}`,
        );
      };
      await applied(killBilling.seq);
      for (const g of c.gateways) assert.deepEqual(await c.call(g, t.token), { status: 403, code: 'ERR_REVOKED_TOOL' }, g.name);
      assert.deepEqual(await svc.call(billing.token), { status: 403, code: 'ERR_REVOKED_TOOL' });
      // The kill is of the action, not the task: the same token is good again once it is lifted.
      const lift = await c.admin.post<{ seq: number; lifted: boolean }>('/revocations/lift', {
        target: { type: 'tool', resourceId: 'api', tool: 'GET /v1/*' },
        reason: 'cluster tool restored',
      });
      assert.equal(lift.lifted, true);
      assert.ok(lift.seq > kill.seq);
      const liftBilling = await c.admin.post<{ seq: number }>('/revocations/lift', {
        target: { type: 'tool', resourceId: 'billing', tool: 'GET /v1/**' },
        reason: 'cluster tool restored',
      });
      await applied(liftBilling.seq);
      for (const g of c.gateways) assert.equal((await c.call(g, t.token)).status, 200, g.name);
      assert.equal((await svc.call(billing.token)).status, 200);
    } finally {
      await svc.close();
    }
  });

  test('a budget raced by concurrent calls on two gateway nodes is never overshot', async () => {
    await c.admin.post('/grants', {
      id: 'budgeted',
      policy: `@budget("calls=20")
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.path like "/v1/budget*" };`,
    });
    const [g1, g2] = c.gateways as [WritProcess, WritProcess];
    // The budget travels in the token (issued by the control node); every node counts against the one shared count.
    const task = await c.task([{ type: 'http', actions: ['GET'], paths: ['/v1/budget'] }]);
    // 30 calls, 15 on each node: within each node's per-task share of the upstream, so that no other bound refuses.
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => c.call(i % 2 === 0 ? g1 : g2, task.token, '/r/api/v1/budget')));
    const ok = results.filter((r) => r.status === 200).length;
    const budgetRefused = results.filter((r) => r.status === 429 && r.code === 'ERR_BUDGET_EXHAUSTED').length;
    assert.equal(ok, 20, JSON.stringify(results));
    assert.equal(budgetRefused, 10, JSON.stringify(results));
  });

  test("Shared Signals: a push receiver and a poll client get the revocation's SET and verify it with Writ's JWKS", async () => {
    const push = await startPushReceiver();
    try {
      const receiver = await c.admin.post<{ token: string; audience: string }>('/ssf/receivers', {
        name: 'cluster receiver',
        audience: 'https://receiver.example/cluster',
      });
      const ssf = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
        const res = await fetch(`${c.control.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${receiver.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.ok(res.status < 300, `${method} ${path}: ${res.status}`);
        return (await res.json()) as Record<string, unknown>;
      };
      const discovery = (await (await fetch(`${c.control.url}/.well-known/ssf-configuration`)).json()) as Record<string, string>;
      assert.equal(discovery['issuer'], c.publicUrl);
      const endpoint = push.endpoint();
      await ssf('POST', '/ssf/v1/streams', {
        delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: endpoint.url },
        events_requested: [SESSION_REVOKED],
      });
      const polled = await ssf('POST', '/ssf/v1/streams', { events_requested: [SESSION_REVOKED] });
      const pollUrl = (polled['delivery'] as { endpoint_url: string }).endpoint_url;

      const t = await c.task();
      const rev = await c.admin.post<{ seq: number }>('/revocations', {
        target: { type: 'task', taskId: t.id },
        reason: 'ssf in a cluster',
      });
      // Verified with the JWKS a gateway node serves: every node publishes the same keys.
      const jwks = createRemoteJWKSet(new URL(`${c.gateways[0]!.url}/.well-known/jwks.json`));
      const expectSet = async (jwt: string): Promise<void> => {
        const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
          issuer: c.publicUrl,
          audience: receiver.audience,
          typ: 'secevent+jwt',
        });
        assert.equal(protectedHeader.alg, 'RS256');
        assert.equal(payload.txn, `writ-revocation-${rev.seq}`);
        assert.deepEqual(payload['sub_id'], { format: 'complex', session: { format: 'opaque', id: t.id } });
        assert.ok(SESSION_REVOKED in (payload['events'] as Record<string, unknown>));
      };
      const pushed = await push.take((s) => s.path === endpoint.path && s.claims.txn === `writ-revocation-${rev.seq}`);
      await expectSet(pushed.body);
      assert.equal(pushed.headers['content-type'], 'application/secevent+jwt');

      const res = await fetch(pollUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${receiver.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ maxEvents: 10, returnImmediately: false }),
      });
      const { sets } = (await res.json()) as { sets: Record<string, string> };
      const mine = Object.values(sets).filter(
        (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).txn === `writ-revocation-${rev.seq}`,
      );
      assert.equal(mine.length, 1, JSON.stringify(sets));
      await expectSet(mine[0]!);
    } finally {
      await push.close();
    }
  });

  test('a revocation on the control node cuts an MCP session open on a gateway node', async () => {
    const upstream = await startMcpTestUpstream();
    try {
      await c.admin.post('/resources', { id: 'tools', kind: 'mcp', baseUrl: upstream.url });
      await c.admin.post('/grants', {
        id: 'tools',
        policy: `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools");`,
      });
      const g = c.gateways[0]!;
      const uri = `${c.publicUrl}/mcp/tools`;
      const t = await c.task([{ type: 'mcp', tools: ['echo'] }], 'tools', uri);
      const client = new Client({ name: 'cluster-agent', version: '1.0.0' });
      await eventually(
        async () => {
          try {
            await client.connect(new StreamableHTTPClientTransport(new URL(uri), { fetch: c.fetchVia(g, t.token) }));
            return true;
          } catch {
            return false; // the gateway has not heard of the new resource yet
          }
        },
        (ok) => ok,
        'an MCP session through the gateway node',
      );
      assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }), {
        content: [{ type: 'text', text: 'echo: hi' }],
      });
      const mcpSessions = async (): Promise<number> =>
        ((await (await fetch(`${g.url}/readyz`)).json()) as { checks: { mcp: { sessions: number } } }).checks.mcp.sessions;
      assert.equal(await mcpSessions(), 1);
      await c.admin.post('/revocations', { target: { type: 'task', taskId: t.id }, reason: 'cut the session' });
      await eventually(mcpSessions, (n) => n === 0, 'the gateway node closes the session on hearing the revocation');
      await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'after' } }));
      await client.close().catch(() => undefined);
    } finally {
      await upstream.close();
    }
  });

  test('a DPoP proof used at one node is a replay at another', async () => {
    const t = await c.task();
    const path = '/r/api/v1/projects';
    const proof = await c.proof(t.token, path);
    const [a, b] = c.gateways as [(typeof c.gateways)[0], (typeof c.gateways)[0]];
    assert.equal((await c.call(a, t.token, path, proof)).status, 200);
    assert.deepEqual(await c.call(b, t.token, path, proof), { status: 401, code: 'ERR_DPOP_REPLAY' });
  });

  test('register changes made on the control node reach every gateway node', async () => {
    await c.admin.post('/resources', { id: 'api2', baseUrl: c.upstream.url });
    await c.admin.post('/grants', {
      id: 'api2',
      policy: `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"api2");`,
    });
    const t = await c.task(READ, 'api2');
    for (const g of c.gateways)
      await eventually(
        () => c.call(g, t.token, '/r/api2/v1/x'),
        (r) => r.status === 200,
        `${g.name} serves the new resource under the new grant`,
      );
    // And taking the grant away is heard as well: the call-time policy check refuses.
    await c.admin.delete('/grants/api2');
    for (const g of c.gateways)
      await eventually(
        () => c.call(g, t.token, '/r/api2/v1/x'),
        (r) => r.status === 403,
        `${g.name} refuses once the grant is gone`,
      );
  });

  test('a gateway whose database connection is cut misses the notification and catches up on reconnect', async () => {
    const g = c.proxied;
    const t = await c.task();
    assert.equal((await c.call(g, t.token)).status, 200);
    const lostBefore = g.logs.filter((l) => l['msg'] === 'cluster listener lost its connection').length;
    // Partition first, so the NOTIFY for the revocation is held in flight; then drop the connections with it.
    c.proxy.pause();
    const rev = await revokeTask(t.id, 'while partitioned');
    c.proxy.cut();
    c.proxy.resume();
    await eventually(
      () => c.readyz(g),
      (r) => r.status === 200 && r.body.checks.revocation.last_seq >= rev.seq && r.body.checks.revocation.connected === true,
      'the cut gateway reconnects and catches up',
    );
    assert.ok(g.logs.filter((l) => l['msg'] === 'cluster listener lost its connection').length > lostBefore, 'the loss was logged');
    assert.deepEqual(await c.call(g, t.token), { status: 401, code: 'ERR_REVOKED_TASK' });
  });

  test('an entry that reaches the log without any notification is found by the heartbeat on every gateway', async () => {
    const t = await c.task();
    for (const g of c.gateways) assert.equal((await c.call(g, t.token)).status, 200, g.name);
    // As if the NOTIFY were lost: the row is written straight into the log, and nobody rings the doorbell.
    const db = new pg.Client({ connectionString: c.databaseUrl });
    await db.connect();
    try {
      const now = Date.now();
      const { rows } = await db.query<{ seq: string }>(
        `INSERT INTO revocations (target_type, target_id, before, expires_at, reason, actor, created_at)
         VALUES ('task', $1, NULL, $2, 'silent', 'test:direct', $3) RETURNING seq`,
        [t.id, Math.floor(now / 1000) + 3600, now],
      );
      const seq = Number(rows[0]?.seq);
      for (const g of c.gateways) {
        await eventually(
          () => c.readyz(g),
          (r) => r.body.checks.revocation.last_seq >= seq,
          `${g.name}'s heartbeat finds seq ${seq}`,
        );
        assert.deepEqual(await c.call(g, t.token), { status: 401, code: 'ERR_REVOKED_TASK' }, g.name);
      }
    } finally {
      await db.end();
    }
  });

  test('a gateway started after a revocation enforces it from its first call', async () => {
    const t = await c.task();
    await revokeTask(t.id, 'before the node exists');
    const late = await c.startGateway('gateway-late');
    assert.deepEqual(await c.call(late, t.token), { status: 401, code: 'ERR_REVOKED_TASK' });
    const fresh = await c.task();
    assert.equal((await c.call(late, fresh.token)).status, 200, 'and serves tokens that were not revoked');
  });

  test('a gateway that cannot confirm it is current within its bound refuses calls and says why', async () => {
    const g = c.proxied;
    const t = await c.task();
    assert.equal((await c.call(g, t.token)).status, 200);
    c.proxy.pause();
    try {
      const stale = await eventually(
        () => c.readyz(g),
        // `stale` once the bound passes; `catching_up` once its heartbeat's timeout gives the connection up.
        (r) => r.status === 503 && ['stale', 'catching_up'].includes(r.body.checks.revocation.state),
        'the partitioned gateway reports that it is not current',
      );
      assert.equal(stale.body.status, 'not_ready');
      assert.ok((stale.body.checks.revocation.lag_ms ?? 0) > 1_000);
      assert.ok(typeof stale.body.checks.revocation.reason === 'string');
      assert.deepEqual(await c.call(g, t.token), { status: 503, code: 'ERR_NOT_READY' });
      await g.waitForLog((l) => String(l['msg']).includes('refusing calls'));
      const metrics = await (await fetch(`${g.url}/metrics`)).text();
      assert.match(metrics, /^writ_revocation_current 0$/m);
    } finally {
      c.proxy.cut();
      c.proxy.resume();
    }
    await eventually(
      () => c.readyz(g),
      (r) => r.status === 200,
      'the gateway is current again once its database answers',
    );
    assert.equal((await c.call(g, t.token)).status, 200);
  });
});

interface Service {
  verifier: WritVerifier;
  call(token: string): Promise<{ status: number; code: string | undefined }>;
  close(): Promise<void>;
}

let billingRegistered = false;

/** A service behind the verifier middleware (Fastify adapter), following the control node's revocation feed. */
async function startService(c: Cluster): Promise<Service> {
  if (!billingRegistered) {
    await c.admin.post('/resources', { id: 'billing', baseUrl: 'http://127.0.0.1:9/unused' });
    await c.admin.post('/grants', {
      id: 'billing',
      policy: `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"billing");`,
    });
    billingRegistered = true;
  }
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const verifier = createWritVerifier({
    issuer: c.publicUrl,
    audience: `${c.publicUrl}/r/billing`,
    feedToken: c.adminToken,
    feed: { reconnectDelayMs: 50, maxReconnectDelayMs: 500 },
  });
  const app = Fastify({
    serverFactory: (handler) => {
      server.on('request', handler);
      return server;
    },
  });
  await app.register(writFastify, { verifier, publicUrl: url });
  app.get('/v1/invoices', async () => ({ ok: true }));
  await app.ready();
  return {
    verifier,
    async call(token) {
      const target = `${url}/v1/invoices`;
      const res = await fetch(target, { headers: { authorization: `DPoP ${token}`, dpop: await c.proofAt(token, target) } });
      const body = (await res.json()) as { code?: string };
      return { status: res.status, code: body.code };
    },
    async close() {
      await verifier.close();
      server.closeAllConnections();
      await app.close();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
