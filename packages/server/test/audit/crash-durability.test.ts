/**
 * Writ killed with SIGKILL at random moments under load, again and again, on each store. After every restart:
 * every request the upstream received has its write-ahead audit record (its trace id, `call.allowed`); every
 * revocation the admin API acknowledged is in force; the hash chain verifies.
 *
 * The kill moment is drawn at random (after a random number of requests reached the upstream, while calls and
 * revocations are in flight); the assertions hold at any moment, so the test does not depend on timing.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDpopProof } from '@writ/agent';
import { startDevIdentityProvider, type DevIdentityProvider } from '@writ/dev';
import { agentKeys, freePort, mintTasks, registerAgentKeys, seedWrit, type AgentKeys } from '@writ/dev/kit';
import { AdminClient } from '../../src/admin-client/index.js';
import { openStore, type Store } from '../../src/storage/index.js';
import { TEST_DATABASE_URL } from '../helpers/stores.js';
import { createScratchDatabase } from '../helpers/scratch-database.js';
import { startWritProcess, type WritProcess } from '../helpers/writ-process.js';
import { DEFAULT_GRANT } from '../helpers/writ-harness.js';

const KILLS = 10;
const CONCURRENT_CALLERS = 6;

interface TracingUpstream {
  url: string;
  /** Trace ids of every request received, noted the moment its headers arrived. */
  traces: Set<string>;
  /** Resolves once `n` requests in all have arrived. */
  received(n: number): Promise<void>;
  close(): Promise<void>;
}

async function tracingUpstream(): Promise<TracingUpstream> {
  const traces = new Set<string>();
  const waiting = new Set<{ n: number; resolve(): void }>();
  const server: Server = createServer((req, res) => {
    const id = /^00-([0-9a-f]{32})-/.exec(String(req.headers.traceparent))?.[1];
    if (id !== undefined) traces.add(id);
    for (const w of waiting)
      if (traces.size >= w.n) {
        waiting.delete(w);
        w.resolve();
      }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    traces,
    received: (n) => (traces.size >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.add({ n, resolve }))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface StoreUnderTest {
  name: 'sqlite' | 'postgres';
  storage: Record<string, unknown>;
  open(): Promise<Store>;
  dispose(): Promise<void>;
}

function sqliteUnderTest(): StoreUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'writ-crash-'));
  const sqlitePath = join(dir, 'writ.db');
  return {
    name: 'sqlite',
    storage: { sqlitePath },
    open: () => openStore({ sqlitePath }),
    dispose: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

async function postgresUnderTest(baseUrl: string): Promise<StoreUnderTest> {
  const db = await createScratchDatabase(baseUrl, 'crash');
  return {
    name: 'postgres',
    storage: { databaseUrl: db.databaseUrl },
    open: () => openStore({ databaseUrl: db.databaseUrl, pgPoolSize: 2 }),
    dispose: () => db.dispose(),
  };
}

/** `workers`: `writ serve --workers`; the SIGKILL then hits the primary, and its workers stop with it. */
function describeCrashes(kind: 'sqlite' | 'postgres', workers = 1, kills = KILLS): void {
  const skip = kind === 'postgres' && TEST_DATABASE_URL === undefined ? 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped' : false;
  describe(`SIGKILL under load [${kind}${workers > 1 ? `, --workers ${workers}` : ''}]`, { skip }, () => {
    let target: StoreUnderTest;
    let idp: DevIdentityProvider;
    let upstream: TracingUpstream;
    let keys: AgentKeys;
    let port: number;
    let publicUrl: string;
    const env = { WRIT_KEK: randomBytes(32).toString('base64'), WRIT_ADMIN_TOKEN: `crash_admin_${randomBytes(16).toString('hex')}` };
    let node: WritProcess | undefined;

    const start = async (name: string): Promise<WritProcess> =>
      startWritProcess({
        name,
        env,
        args: ['--workers', String(workers)],
        config: {
          server: { host: '127.0.0.1', port, publicUrl },
          storage: target.storage,
          audit: { flushIntervalMs: 5 },
          log: { level: 'info' },
        },
      });

    before(async () => {
      target = kind === 'sqlite' ? sqliteUnderTest() : await postgresUnderTest(TEST_DATABASE_URL as string);
      idp = await startDevIdentityProvider({ host: '127.0.0.1', port: 0 });
      upstream = await tracingUpstream();
      keys = await agentKeys();
      port = await freePort();
      publicUrl = `http://127.0.0.1:${port}`;
    });
    after(async () => {
      await node?.stop();
      await upstream.close();
      await idp.close();
      await target.dispose();
    });

    test(
      `${kills} kills: nothing served unaudited, no acknowledged revocation lost, the chain verifies`,
      { timeout: 300_000 },
      async () => {
        node = await start('crash-0');
        let admin = new AdminClient(node.url, env.WRIT_ADMIN_TOKEN);
        await seedWrit(admin, { idp, upstream: upstream.url, grant: { id: 'default', policy: DEFAULT_GRANT } });
        await registerAgentKeys(admin, 'agent-a', keys);
        // One task carries the load; the others are revoked one by one while it runs.
        const [load, ...victims] = await mintTasks({ issuer: publicUrl, agentId: 'agent-a', keys, idp, count: 1 + 4 * kills });
        assert.ok(load !== undefined);
        const acknowledged: Array<{ id: string; token: string }> = [];
        const url = `${publicUrl}/r/api/v1/projects`;

        for (let kill = 1; kill <= kills; kill++) {
          const current = node;
          // The kill moment: after a random number of requests reached the upstream in this round.
          const reached = upstream.received(upstream.traces.size + randomInt(1, 60));
          let stop = false;
          const callers = Array.from({ length: CONCURRENT_CALLERS }, async () => {
            while (!stop) {
              const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
              const proof = await createDpopProof(keys.dpopKey, { htm: 'GET', htu: url, accessToken: load.token });
              await fetch(url, { headers: { authorization: `DPoP ${load.token}`, dpop: proof, traceparent } })
                .then((r) => r.arrayBuffer())
                .catch(() => undefined); // the process was killed under it
            }
          });
          const revoker = (async () => {
            for (let i = 0; i < 4 && !stop; i++) {
              const victim = victims.shift();
              if (victim === undefined) return;
              try {
                await admin.post(`/tasks/${victim.id}/revoke`, { reason: 'crash test' });
                acknowledged.push(victim);
              } catch {
                return; // not acknowledged: the process is gone, or going
              }
            }
          })();
          await reached;
          await current.kill();
          stop = true;
          await Promise.all([...callers, revoker]);

          node = await start(`crash-${kill}`);
          admin = new AdminClient(node.url, env.WRIT_ADMIN_TOKEN);

          const store = await target.open();
          let audited: Set<string>;
          try {
            const rows = await store.db.selectFrom('audit_events').select('trace_id').where('type', '=', 'call.allowed').execute();
            audited = new Set(rows.map((r) => r.trace_id ?? ''));
          } finally {
            await store.close();
          }
          const unaudited = [...upstream.traces].filter((t) => !audited.has(t));
          assert.deepEqual(unaudited, [], `after kill ${kill}: requests the upstream received without a write-ahead record`);

          const verified = await admin.get<{ ok: boolean }>('/audit/verify');
          assert.equal(verified.ok, true, `after kill ${kill}: ${JSON.stringify(verified)}`);

          for (const t of acknowledged) {
            const proof = await createDpopProof(keys.dpopKey, { htm: 'GET', htu: url, accessToken: t.token });
            const res = await fetch(url, { headers: { authorization: `DPoP ${t.token}`, dpop: proof } });
            const body = (await res.json()) as { code?: string };
            assert.deepEqual([res.status, body.code], [401, 'ERR_REVOKED_TASK'], `after kill ${kill}: task ${t.id} was revoked`);
          }
        }
        assert.ok(upstream.traces.size >= kills, 'the load reached the upstream');
        assert.ok(acknowledged.length >= 1, 'revocations were acknowledged');
      },
    );
  });
}

describeCrashes('sqlite');
describeCrashes('postgres');
// Several journals in one file: the first worker of each start chains what every slot left.
describeCrashes('sqlite', 2, 5);
