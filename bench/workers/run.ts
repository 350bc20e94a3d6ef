/**
 * bench/workers — the Writ gateway as `writ serve --workers 1` and `--workers 2`, side by side in one run: requests
 * per second through each, same load, same upstream, targets measured in interleaved rounds (the order rotates).
 * Both run from the built CLI as an operator would start them, each on its own SQLite file.
 *
 *   npm run bench:workers [-- --seconds 10 --connections 32 --rounds 3]
 *
 * The load generator, the upstream and every worker share this machine's cores: on a machine with more cores than
 * the workers need, the ratio is what the workers themselves allow.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '@writ/server';
import { startDevIdentityProvider, type DevIdentityProvider } from '@writ/dev';
import { agentKeys, freePort, makeProofFactory, mintTasks, proofHeaders, registerAgentKeys, seedGrant, seedWrit } from '@writ/dev/kit';
import { runLoad, type LoadResult } from '../lib/load.js';
import { median } from '../lib/median.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 32);
const ROUNDS = arg('rounds', 3);
const WORKER_COUNTS = [1, 2];
const CLI = fileURLToPath(new URL('../../../packages/server/dist/src/cli/main.js', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('../gateway-overhead/target.js', import.meta.url));

interface Target {
  workers: number;
  child: ChildProcess;
  origin: string;
  headers: (n: number) => () => Record<string, string>;
}

async function startUpstream(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(UPSTREAM, ['upstream'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { ready: { port: number } }) => resolve(m.ready.port));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function startWrit(workers: number, upstream: string, idp: DevIdentityProvider): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), `writ-bench-workers-${workers}-`));
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const adminToken = `bench_${randomBytes(16).toString('hex')}`;
  const file = join(dir, 'writ.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      server: { host: '127.0.0.1', port, publicUrl },
      storage: { sqlitePath: join(dir, 'writ.db') },
      log: { level: 'warn' },
      egress: { allow: ['127.0.0.0/8'] },
      // One agent and task carry the whole load (as in bench/gateway-overhead): the per-agent and per-task upstream
      // shares are opened so the bench measures the path, not the bound.
      limits: { upstreamConnections: 1024, upstreamConnectionsPerAgent: 1024, upstreamConnectionsPerTask: 1024 },
    }),
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file, '--workers', String(workers)], {
    env: {
      PATH: process.env['PATH'] ?? '',
      WRIT_KEK: randomBytes(32).toString('base64'),
      WRIT_ADMIN_TOKEN: adminToken,
      WRIT_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Serving once it says so: the primary once every worker serves, a single process once it listens.
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    const ready = workers > 1 ? 'writ serving on every worker' : 'writ listening';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.includes(`"msg":"${ready}"`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writ --workers ${workers} exited with ${code}`)));
  });
  child.stdout?.resume();
  const admin = new AdminClient(publicUrl, adminToken);
  await seedWrit(admin, { idp, upstream, grant: { id: 'bench', policy: seedGrant('bench-agent') } });
  const keys = await agentKeys();
  await registerAgentKeys(admin, 'bench-agent', keys, 'bench');
  const [task] = await mintTasks({ issuer: publicUrl, agentId: 'bench-agent', keys, idp, count: 1 });
  if (task === undefined) throw new Error('no task token');
  const path = '/r/api/v1/projects';
  return {
    workers,
    child,
    origin: publicUrl,
    headers: proofHeaders(makeProofFactory(keys.dpopPrivateJwk, `${publicUrl}${path}`, task.token), task.token),
  };
}

/** CPU time (user + system) of a process and its live descendants, and of the process alone, in µs (Linux /proc). */
function treeCpu(pid: number): { total: number; own: number } {
  // After the command name (which may hold spaces), utime and stime are the 12th and 13th fields; USER_HZ is 100.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = (Number(f[11]) + Number(f[12])) * 10_000;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(' ')
    .filter((x) => x !== '')
    .map(Number);
  let total = own;
  for (const c of children) total += treeCpu(c).total;
  return { total, own };
}

interface Measured extends LoadResult {
  /** CPU per request of the whole `writ serve` process tree, and of the primary alone, µs. */
  cpuUs: number;
  primaryCpuUs: number;
}

async function measure(t: Target): Promise<Measured> {
  const path = '/r/api/v1/projects';
  await runLoad({ origin: t.origin, path, connections: CONNECTIONS, durationMs: 2000, headers: t.headers(25_000) });
  const pid = t.child.pid as number;
  const before = treeCpu(pid);
  const r = await runLoad({
    origin: t.origin,
    path,
    connections: CONNECTIONS,
    durationMs: SECONDS * 1000,
    headers: t.headers(Math.ceil(SECONDS * 12_000)),
  });
  const after = treeCpu(pid);
  if (r.errors > 0 || r.non2xx > 0) throw new Error(`--workers ${t.workers}: ${r.errors} errors, ${r.non2xx} non-2xx responses`);
  return {
    ...r,
    cpuUs: (after.total - before.total) / r.requests,
    primaryCpuUs: t.workers > 1 ? (after.own - before.own) / r.requests : 0,
  };
}

async function main(): Promise<void> {
  const idp = await startDevIdentityProvider({ host: '127.0.0.1', port: 0 });
  const upstream = await startUpstream();
  const targets: Target[] = [];
  const rounds: Array<Map<number, Measured>> = [];
  try {
    for (const n of WORKER_COUNTS) targets.push(await startWrit(n, upstream.url, idp));
    for (let r = 0; r < ROUNDS; r++) {
      const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target);
      const results = new Map<number, Measured>();
      for (const t of order) results.set(t.workers, await measure(t));
      rounds.push(results);
      console.error(`round ${r + 1}/${ROUNDS} done (order: ${order.map((t) => `--workers ${t.workers}`).join(', ')})`);
    }
  } finally {
    for (const t of targets) t.child.kill('SIGTERM');
    upstream.child.kill();
    await idp.close();
  }
  const fmt = (n: number, d = 0): string => n.toFixed(d);
  const ratios = rounds.map((r) => (r.get(2) as Measured).rps / (r.get(1) as Measured).rps);
  const lines = [
    `bench/workers — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), available parallelism ${availableParallelism()}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `${rounds.length} interleaved rounds; ${CONNECTIONS} connections, ${SECONDS}s each; load generator, upstream and workers share the machine; medians over rounds`,
    '',
    '| writ serve | req/s | p50 ms | p99 ms | CPU µs/req (all processes) | of which the primary |',
    '|---|---|---|---|---|---|',
    ...WORKER_COUNTS.map((n) => {
      const col = (f: (r: Measured) => number, d = 0): string => fmt(median(rounds.map((r) => f(r.get(n) as Measured))), d);
      const primary = n > 1 ? col((r) => r.primaryCpuUs) : '—';
      return `| --workers ${n} | ${col((r) => r.rps)} | ${col((r) => r.p50ms, 2)} | ${col((r) => r.p99ms, 2)} | ${col((r) => r.cpuUs)} | ${primary} |`;
    }),
    '',
    `--workers 2 / --workers 1: median ${fmt(median(ratios), 2)}× (rounds: ${ratios.map((x) => fmt(x, 2)).join(' / ')})`,
  ];
  console.log(lines.join('\n'));
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(new URL(`../results/workers-${Date.now()}.md`, import.meta.url), `${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
