/**
 * `writ serve --workers 2` on each store: two event loops on one port with the guarantees of one. Every call goes on a
 * connection of its own, and Node's cluster hands new connections to the workers in turn, so consecutive calls land
 * on different loops: with a replay set or a revocation held by one loop only, half of these calls would go through.
 *
 * - a DPoP proof is used once across the loops;
 * - a revocation, and a register change, is in force in every loop when its answer arrives;
 * - one audit chain: it verifies, and every call the upstream received has its write-ahead record, also after a
 *   worker was killed (SIGKILL) and started again by the primary.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDpopProof } from '@writ/agent';
import { startDevIdentityProvider, type DevIdentityProvider } from '@writ/dev';
import { agentKeys, freePort, mintTasks, registerAgentKeys, seedWrit, writAgent, type AgentKeys } from '@writ/dev/kit';
import { TOKEN_TYPE } from '@writ/protocol';
import { startMcpTestUpstream } from '../helpers/mcp-test-upstream.js';
import { AdminClient } from '../../src/admin-client/index.js';
import { TEST_DATABASE_URL } from '../helpers/stores.js';
import { createScratchDatabase } from '../helpers/scratch-database.js';
import { startWritProcess, type WritProcess } from '../helpers/writ-process.js';
import { DEFAULT_GRANT } from '../helpers/writ-harness.js';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';

const CALLS_PER_CHECK = 6;

interface FreshAnswer {
  status: number;
  code: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a connection of its own (no keep-alive pool): the cluster picks the worker. */
function freshCall(url: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<FreshAnswer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, code, headers: res.headers, body: text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON-RPC message of an MCP answer, sent as JSON or as one SSE event. */
function rpcOf(a: FreshAnswer): Record<string, unknown> {
  const text = String(a.headers['content-type']).startsWith('text/event-stream')
    ? a.body
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5))
        .join('')
    : a.body;
  return JSON.parse(text) as Record<string, unknown>;
}

function describeWorkers(kind: 'sqlite' | 'postgres'): void {
  const skip = kind === 'postgres' && TEST_DATABASE_URL === undefined ? 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped' : false;
  describe(`writ serve --workers 2 [${kind}]`, { skip }, () => {
    const env = { WRIT_KEK: randomBytes(32).toString('base64'), WRIT_ADMIN_TOKEN: `workers_admin_${randomBytes(16).toString('hex')}` };
    let node: WritProcess;
    let admin: AdminClient;
    let idp: DevIdentityProvider;
    let upstream: RecordingUpstream;
    let keys: AgentKeys;
    let publicUrl: string;
    let dispose: () => Promise<void>;

    const call = async (
      token: string,
      path = '/r/api/v1/projects',
      proof?: string,
    ): Promise<{ status: number; code: string | undefined }> => {
      const url = `${publicUrl}${path}`;
      const dpop = proof ?? (await createDpopProof(keys.dpopKey, { htm: 'GET', htu: url, accessToken: token }));
      return freshCall(url, { authorization: `DPoP ${token}`, dpop });
    };
    const task = async (): Promise<{ id: string; token: string }> => {
      const [t] = await mintTasks({ issuer: publicUrl, agentId: 'agent-a', keys, idp, count: 1 });
      assert.ok(t !== undefined);
      return t;
    };

    before(async () => {
      let storage: Record<string, unknown>;
      if (kind === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'writ-workers-'));
        storage = { sqlitePath: join(dir, 'writ.db') };
        dispose = () => Promise.resolve(rmSync(dir, { recursive: true, force: true }));
      } else {
        const db = await createScratchDatabase(TEST_DATABASE_URL as string, 'workers');
        storage = { databaseUrl: db.databaseUrl };
        dispose = () => db.dispose();
      }
      idp = await startDevIdentityProvider({ host: '127.0.0.1', port: 0 });
      upstream = await startRecordingUpstream();
      keys = await agentKeys();
      const port = await freePort();
      publicUrl = `http://127.0.0.1:${port}`;
      node = await startWritProcess({
        name: `workers-${kind}`,
        env,
        args: ['--workers', '2'],
        config: { server: { host: '127.0.0.1', port, publicUrl, workerAckTimeoutMs: 1000 }, storage, log: { level: 'info' } },
      });
      admin = new AdminClient(node.url, env.WRIT_ADMIN_TOKEN);
      await seedWrit(admin, { idp, upstream: upstream.url, grant: { id: 'default', policy: DEFAULT_GRANT } });
      await registerAgentKeys(admin, 'agent-a', keys);
    });
    after(async () => {
      await node.stop();
      await upstream.close();
      await idp.close();
      await dispose();
    });

    test('both workers serve', async () => {
      const serving = node.logs.filter((l) => l['msg'] === 'writ listening').map((l) => l['slot']);
      assert.deepEqual([...new Set(serving)].sort(), [1, 2]);
    });

    test('a DPoP proof is used once across the workers', async () => {
      const t = await task();
      for (let i = 0; i < CALLS_PER_CHECK; i++) {
        const url = `${publicUrl}/r/api/v1/projects`;
        const proof = await createDpopProof(keys.dpopKey, { htm: 'GET', htu: url, accessToken: t.token });
        const first = await call(t.token, undefined, proof);
        assert.equal(first.status, 200, `fresh proof ${i}: ${first.code}`);
        const replayed = await call(t.token, undefined, proof);
        assert.deepEqual([replayed.status, replayed.code], [401, 'ERR_DPOP_REPLAY'], `replay ${i} on the next connection`);
      }
    });

    test('a revocation is in force in every worker when its answer arrives', async () => {
      for (let round = 0; round < 3; round++) {
        const t = await task();
        // Both workers have served this task before it is revoked (each has it in its verified-token cache).
        for (let i = 0; i < 2; i++) assert.equal((await call(t.token)).status, 200);
        await admin.post(`/tasks/${t.id}/revoke`, { reason: 'workers test' });
        const after = await Promise.all(Array.from({ length: CALLS_PER_CHECK }, () => call(t.token)));
        assert.deepEqual(
          after.map((r) => `${r.status} ${r.code}`),
          Array.from({ length: CALLS_PER_CHECK }, () => '401 ERR_REVOKED_TASK'),
        );
      }
    });

    test('a register change is in force in every worker when its answer arrives', async () => {
      const t = await task();
      for (let i = 0; i < 2; i++) assert.equal((await call(t.token)).status, 200);
      // The grant behind the task is removed, then added again: register changes, not revocation entries.
      await admin.request('DELETE', '/grants/default');
      const denied = await Promise.all(Array.from({ length: CALLS_PER_CHECK }, () => call(t.token)));
      assert.deepEqual(
        denied.map((r) => `${r.status} ${r.code}`),
        Array.from({ length: CALLS_PER_CHECK }, () => '403 ERR_POLICY_DENIED'),
      );
      await admin.post('/grants', { id: 'default', policy: DEFAULT_GRANT });
      const back = await Promise.all(Array.from({ length: CALLS_PER_CHECK }, () => call(t.token)));
      assert.deepEqual(
        back.map((r) => r.status),
        Array.from({ length: CALLS_PER_CHECK }, () => 200),
      );
    });

    test("an MCP session's requests reach the worker that holds it, whichever worker their connection lands on", async () => {
      const mcp = await startMcpTestUpstream();
      try {
        await admin.post('/resources', { id: 'tools', kind: 'mcp', baseUrl: mcp.url });
        await admin.post('/grants', {
          id: 'tools',
          policy:
            'permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools") when { context.tool == "echo" };',
        });
        const alice = idp.accounts.find((a) => a.username === 'alice');
        const { idToken } = await idp.loginAs('alice', alice?.password);
        const t = await writAgent(publicUrl, 'agent-a', keys).startTask({
          subjectToken: idToken,
          subjectTokenType: TOKEN_TYPE.idToken,
          resource: `${publicUrl}/mcp/tools`,
          authorizationDetails: [{ type: 'mcp', tools: ['echo'] }],
          purpose: 'workers test',
        });
        const url = `${publicUrl}/mcp/tools`;
        const post = async (message: Record<string, unknown>, session?: string): Promise<FreshAnswer> =>
          freshCall(
            url,
            {
              authorization: `DPoP ${t.token}`,
              dpop: await createDpopProof(keys.dpopKey, { htm: 'POST', htu: url, accessToken: t.token }),
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              ...(session !== undefined ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
            },
            'POST',
            JSON.stringify({ jsonrpc: '2.0', ...message }),
          );
        const init = await post({
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'workers-test', version: '1' } },
        });
        assert.equal(init.status, 200, init.body);
        const session = init.headers['mcp-session-id'];
        assert.ok(typeof session === 'string');
        assert.equal((await post({ method: 'notifications/initialized' }, session)).status, 202);
        for (let i = 0; i < CALLS_PER_CHECK; i++) {
          const answer = await post(
            { id: 10 + i, method: 'tools/call', params: { name: 'echo', arguments: { message: `m${i}` } } },
            session,
          );
          assert.equal(answer.status, 200, `call ${i}: ${answer.body}`);
          assert.deepEqual((rpcOf(answer)['result'] as { content: unknown }).content, [{ type: 'text', text: `echo: m${i}` }]);
        }
        assert.equal(mcp.calls.length, CALLS_PER_CHECK);
      } finally {
        await mcp.close();
      }
    });

    test('a worker that cannot put a revocation in force (stopped) is killed and started again before the answer', async () => {
      const t = await task();
      for (let i = 0; i < 2; i++) assert.equal((await call(t.token)).status, 200);
      const serving = [...node.logs].reverse().find((l) => l['msg'] === 'worker serving' && l['slot'] === 2);
      assert.ok(serving !== undefined);
      const stuck = Number(serving['pid']);
      // Only a worker that starts after this point: the earlier lines name workers already gone.
      const restarted = node.waitForLog((l) => l['msg'] === 'worker serving' && l['slot'] === 2, node.logs.length);
      process.kill(stuck, 'SIGSTOP');
      try {
        // A connection the cluster hands to the stopped worker hangs: the revocation is sent again on a new one,
        // which lands on the other worker.
        let answered: FreshAnswer | undefined;
        for (let attempt = 0; answered === undefined && attempt < 4; attempt++) {
          answered = await Promise.race([
            freshCall(
              `${publicUrl}/admin/v1/tasks/${t.id}/revoke`,
              {
                authorization: `Bearer ${env.WRIT_ADMIN_TOKEN}`,
                'content-type': 'application/json',
              },
              'POST',
              JSON.stringify({ reason: 'stuck worker test' }),
            ).catch(() => undefined),
            new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3000).unref()),
          ]);
        }
        assert.equal(answered?.status, 200, answered?.body);
        // Answered only once the stuck worker could no longer serve: it was killed, and is being started again.
        assert.ok(
          node.logs.some((l) => l['msg'] === 'a worker did not put a change in force in time: stopped, and started again from the store'),
        );
      } finally {
        try {
          process.kill(stuck, 'SIGCONT');
        } catch {
          // already gone
        }
      }
      await restarted;
      const after = await Promise.all(Array.from({ length: CALLS_PER_CHECK }, () => call(t.token)));
      assert.deepEqual(
        after.map((r) => `${r.status} ${r.code}`),
        Array.from({ length: CALLS_PER_CHECK }, () => '401 ERR_REVOKED_TASK'),
      );
    });

    test('one audit chain: it verifies, and every call the upstream saw has its record, across a killed worker', async () => {
      const t = await task();
      for (let i = 0; i < CALLS_PER_CHECK; i++) assert.equal((await call(t.token)).status, 200);
      const worker = [...node.logs].reverse().find((l) => l['msg'] === 'worker serving' && l['slot'] === 2);
      assert.ok(worker !== undefined);
      const restarted = node.waitForLog((l) => l['msg'] === 'worker serving' && l['slot'] === 2, node.logs.length);
      process.kill(Number(worker['pid']), 'SIGKILL');
      await restarted;
      for (let i = 0; i < CALLS_PER_CHECK; i++) assert.equal((await call(t.token)).status, 200);

      const verified = await admin.get<{ ok: boolean; count?: number }>('/audit/verify');
      assert.equal(verified.ok, true, JSON.stringify(verified));
      const events = await admin.get<Array<{ type: string; trace_id: string }>>('/audit?type=call.allowed&limit=1000');
      const allowed = new Set(events.filter((e) => e.type === 'call.allowed').map((e) => e.trace_id));
      const seen = upstream.requests.map((r) => /^00-([0-9a-f]{32})-/.exec(String(r.headers.traceparent))?.[1] ?? '');
      assert.ok(seen.length > 0);
      assert.deepEqual(
        seen.filter((id) => !allowed.has(id)),
        [],
        'requests the upstream received without a write-ahead record',
      );
    });
  });
}

describeWorkers('sqlite');
describeWorkers('postgres');
