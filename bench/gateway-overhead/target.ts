/**
 * One benchmark target per process, so each proxy's CPU time is its own: `upstream` (a trivial API), `bare` (node:http
 * + undici Pool.stream, nothing else), `bare-dpop` (bare + the DPoP proof signature check: the floor no design can
 * remove), `writ` (the Writ gateway with every check on, on SQLite), and the variants below; `writ-pg…` run on the
 * PostgreSQL database named by the third argument. Talks to the runner over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { importPublicJwk, parseCompactJws, verifyJwsSignature } from '@writ/verify/internal';
import { AdminClient, loadConfig, silentLogger, startWritServer } from '@writ/server';
import { startDevIdentityProvider } from '@writ/dev';
import { agentKeys, mintTasks, registerAgentKeys, seedGrant, seedWrit } from '@writ/dev/kit';

const mode = process.argv[2];
const upstreamUrl = process.argv[3] ?? '';
const databaseUrl = process.argv[4];
const WRIT_MODES = [
  'writ',
  'writ-nothing-injected',
  'writ-budgeted',
  'writ-pg',
  'writ-pg-budgeted',
  'writ-pg-budgeted-durable',
  'writ-pg-replay-asynchronous',
];

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function bareForward(pool: Pool, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
  pool
    .stream({ path: req.url ?? '/', method: 'GET', headers }, ({ statusCode, headers: h }) => {
      res.writeHead(statusCode, h as Record<string, string>);
      return res;
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
    });
}

async function main(): Promise<void> {
  let extra: Record<string, unknown> = {};
  let port: number;
  if (mode === 'upstream') {
    const body = JSON.stringify({ projects: [{ id: '1', name: 'apollo' }] });
    port = await listen((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  } else if (mode === 'bare') {
    const pool = new Pool(upstreamUrl, { connections: 128 });
    port = await listen((req, res) => bareForward(pool, req, res, {}));
  } else if (mode === 'bare-dpop') {
    const pool = new Pool(upstreamUrl, { connections: 128 });
    port = await listen((req, res) => {
      const jws = parseCompactJws(String(req.headers.dpop ?? ''));
      const key = typeof jws === 'string' ? undefined : importPublicJwk(jws.header['jwk'], 'ES256');
      if (typeof jws === 'string' || key === undefined || !verifyJwsSignature(jws, 'ES256', key.key)) {
        res.writeHead(401).end();
        return;
      }
      bareForward(pool, req, res, {});
    });
  } else if (mode !== undefined && WRIT_MODES.includes(mode)) {
    const onPostgres = mode.startsWith('writ-pg');
    if (onPostgres && databaseUrl === undefined) throw new Error(`${mode} needs a database URL`);
    const dir = mkdtempSync(join(tmpdir(), 'writ-bench-'));
    const adminToken = `bench_${randomBytes(16).toString('hex')}`;
    const idp = await startDevIdentityProvider({ port: 0 });
    const config = loadConfig({
      file: null,
      env: { WRIT_KEK: randomBytes(32).toString('base64'), WRIT_ADMIN_TOKEN: adminToken },
      overrides: {
        'server.port': 0,
        ...(onPostgres
          ? // `writ-pg-budgeted-durable`: every counter take waits for PostgreSQL's WAL flush.
            // `writ-pg-replay-asynchronous`: proofs remembered without waiting for the WAL flush.
            {
              'storage.databaseUrl': databaseUrl,
              'budgets.asynchronousCommit': mode !== 'writ-pg-budgeted-durable',
              'dpop.replayAsynchronousCommit': mode === 'writ-pg-replay-asynchronous',
            }
          : { 'storage.sqlitePath': join(dir, 'writ.db') }),
        'log.level': 'silent',
        'egress.allow': ['127.0.0.0/8'],
        // One agent and task drive the whole load here: the per-agent and per-task upstream shares (which would refuse
        // most of it, 429) are opened to the total, so the bench measures the path, the lease included, not the bound.
        'limits.upstreamConnections': 1024,
        'limits.upstreamConnectionsPerAgent': 1024,
        'limits.upstreamConnectionsPerTask': 1024,
      },
    });
    const writ = await startWritServer({ config, logger: silentLogger() });
    const admin = new AdminClient(writ.url, adminToken);
    // `writ-budgeted`: every limit a grant can set, so each call takes from five counters (in memory on this embedded
    // node); set so high that none refuses. Against `writ-nothing-injected`, the difference is what budgets cost.
    const budget =
      '@budget("calls=1000000000, calls_per_minute=1000000000, calls_per_action=1000000000, agent_calls_per_minute=1000000000, user_calls_per_minute=1000000000")\n';
    const policy = `${mode.includes('budgeted') ? budget : ''}${seedGrant('bench-agent')}`;
    await seedWrit(admin, { idp, upstream: upstreamUrl, grant: { id: 'bench', policy } });
    if (mode !== 'writ') {
      // The same resource without a vault credential: nothing to inject, so no answer to scrub. Side by side with
      // `writ`, the difference is what injection and response scrubbing cost.
      await admin.delete('/resources/api');
      await admin.post('/resources', { id: 'api', baseUrl: upstreamUrl });
    }
    const keys = await agentKeys();
    await registerAgentKeys(admin, 'bench-agent', keys, 'bench');
    const [task] = await mintTasks({ issuer: writ.publicUrl, agentId: 'bench-agent', keys, idp, count: 1 });
    if (task === undefined) throw new Error('no task token');
    port = Number(new URL(writ.url).port);
    extra = { token: task.token, dpopPrivateJwk: keys.dpopPrivateJwk, publicUrl: writ.publicUrl };
  } else {
    throw new Error(`unknown mode ${String(mode)}`);
  }
  process.on('message', (m: { cpu?: boolean; exit?: boolean }) => {
    if (m.cpu === true) process.send?.({ cpu: process.cpuUsage(), mem: process.memoryUsage().rss });
    // A clean exit, so that --cpu-prof (BENCH_PROFILE=1) can write its profile.
    if (m.exit === true) process.exit(0);
  });
  process.send?.({ ready: { port, ...extra } });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
