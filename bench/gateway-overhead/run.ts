/**
 * bench/gateway-overhead — the same load, in one run, against: the upstream directly; a bare undici proxy; a bare
 * proxy that only verifies the DPoP proof signature (the floor); and the Writ gateway with every check on. Prints
 * requests/s, p50/p99 and the proxy process's CPU time per request, with Writ's figures as ratios of the baselines.
 *
 *   npm run bench:gateway [-- --seconds 10 --connections 32 --rounds 3 --postgres postgres://postgres@127.0.0.1:5432/test]
 *
 * With `--postgres <server URL>`, four more targets run on PostgreSQL (each on a scratch database of its own, dropped
 * afterwards): Writ with nothing injected; budgeted with the counters committed asynchronously (the default) and
 * durably (`budgets.asynchronousCommit: false`); and with proofs remembered asynchronously
 * (`dpop.replayAsynchronousCommit: true`).
 *
 * All targets run side by side and are measured in interleaved rounds (the order rotates each round); the report
 * gives medians over rounds and each round's ratios.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { runLoad, type LoadResult } from '../lib/load.js';
import { median } from '../lib/median.js';
import { cpuOf, startTarget, type Ready } from './target-process.js';
import { createScratchDatabase, scratchPrefix, type ScratchDatabase } from '../lib/scratch-database.js';
import { makeProofFactory, proofHeaders } from '@writ/dev/kit';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 32);
const LATENCY_SECONDS = arg('latency-seconds', 5);
const ROUNDS = arg('rounds', 3);
const POSTGRES = ((): string | undefined => {
  const i = process.argv.indexOf('--postgres');
  return i === -1 ? undefined : process.argv[i + 1];
})();

interface Row {
  name: string;
  throughput: LoadResult;
  latency: LoadResult;
  cpuUsPerRequest: number | undefined;
}

/** A target of this run; profiled (--cpu-prof) when BENCH_PROFILE names its mode. */
function start(mode: string, upstream = '', databaseUrl?: string): ReturnType<typeof startTarget> {
  const profile = process.env['BENCH_PROFILE'] === mode ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [];
  return startTarget(mode, { upstream, execArgv: profile, ...(databaseUrl !== undefined ? { databaseUrl } : {}) });
}

async function measure(
  name: string,
  origin: string,
  path: string,
  child: ChildProcess | undefined,
  headers: (n: number) => () => Record<string, string>,
): Promise<Row> {
  // Warm up (JIT, connection pools, caches), then measure throughput, then single-connection latency.
  await runLoad({ origin, path, connections: CONNECTIONS, durationMs: 2000, headers: headers(25_000) });
  const before = child === undefined ? 0 : await cpuOf(child);
  const throughput = await runLoad({
    origin,
    path,
    connections: CONNECTIONS,
    durationMs: SECONDS * 1000,
    headers: headers(Math.ceil(SECONDS * 12_000)),
  });
  const after = child === undefined ? 0 : await cpuOf(child);
  const latency = await runLoad({
    origin,
    path,
    connections: 1,
    durationMs: LATENCY_SECONDS * 1000,
    headers: headers(LATENCY_SECONDS * 4000),
  });
  for (const r of [throughput, latency])
    if (r.errors > 0 || r.non2xx > 0) throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx responses`);
  return { name, throughput, latency, cpuUsPerRequest: child === undefined ? undefined : (after - before) / throughput.requests };
}

interface Target {
  name: string;
  origin: string;
  path: string;
  child: ChildProcess | undefined;
  headers: (n: number) => () => Record<string, string>;
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const rounds: Row[][] = [];
  const databases: ScratchDatabase[] = [];
  try {
    // Every target runs from the start; each round measures them all, in an order that rotates, so drift on a shared
    // machine (another process, thermal state) spreads over every target instead of landing on the last one.
    const upstream = await start('upstream');
    children.push(upstream.child);
    const upstreamOrigin = `http://127.0.0.1:${upstream.ready.port}`;
    const bare = await start('bare', upstreamOrigin);
    const bareDpop = await start('bare-dpop', upstreamOrigin);
    const writ = await start('writ', upstreamOrigin);
    const plain = await start('writ-nothing-injected', upstreamOrigin);
    const budgeted = await start('writ-budgeted', upstreamOrigin);
    children.push(bare.child, bareDpop.child, writ.child, plain.child, budgeted.child);
    const keyForBare = (await import('node:crypto'))
      .generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'jwk' });
    const bareOrigin = `http://127.0.0.1:${bareDpop.ready.port}`;
    const { token, dpopPrivateJwk, publicUrl } = writ.ready;
    if (token === undefined || dpopPrivateJwk === undefined || publicUrl === undefined)
      throw new Error('writ target did not hand over a task');
    const writPath = '/r/api/v1/projects';
    const targets: Target[] = [
      { name: 'direct', origin: upstreamOrigin, path: '/v1/projects', child: undefined, headers: proofHeaders(undefined, undefined) },
      {
        name: 'bare undici proxy',
        origin: `http://127.0.0.1:${bare.ready.port}`,
        path: '/v1/projects',
        child: bare.child,
        headers: proofHeaders(undefined, undefined),
      },
      {
        name: 'bare proxy + DPoP verify',
        origin: bareOrigin,
        path: '/v1/projects',
        child: bareDpop.child,
        headers: proofHeaders(makeProofFactory(keyForBare, `${bareOrigin}/v1/projects`, undefined), undefined),
      },
      {
        name: 'Writ gateway (all checks)',
        origin: publicUrl,
        path: writPath,
        child: writ.child,
        headers: proofHeaders(makeProofFactory(dpopPrivateJwk, `${publicUrl}${writPath}`, token), token),
      },
      plainTarget(plain, writPath),
      plainTarget(budgeted, writPath, 'Writ gateway, nothing injected, budgeted'),
    ];
    if (POSTGRES !== undefined) {
      const prefix = scratchPrefix();
      for (const [mode, name] of [
        ['writ-pg', 'Writ on PostgreSQL, nothing injected'],
        ['writ-pg-budgeted', 'Writ on PostgreSQL, nothing injected, budgeted'],
        ['writ-pg-budgeted-durable', 'Writ on PostgreSQL, nothing injected, budgeted, durable counts'],
        ['writ-pg-replay-asynchronous', 'Writ on PostgreSQL, nothing injected, proofs committed asynchronously'],
      ] as const) {
        const db = await createScratchDatabase(POSTGRES, `${prefix}_${mode.replaceAll('-', '_')}`);
        databases.push(db);
        const started = await start(mode, upstreamOrigin, db.url);
        children.push(started.child);
        targets.push(plainTarget(started, writPath, name));
      }
    }
    for (let r = 0; r < ROUNDS; r++) {
      const order = targets.map((_, i) => targets[(i + r) % targets.length] as Target);
      const byName = new Map<string, Row>();
      for (const t of order) byName.set(t.name, await measure(t.name, t.origin, t.path, t.child, t.headers));
      rounds.push(targets.map((t) => byName.get(t.name) as Row));
      console.error(`round ${r + 1}/${ROUNDS} done (order: ${order.map((t) => t.name).join(', ')})`);
    }
  } finally {
    for (const c of children) if (c.connected) c.send({ exit: true });
    await new Promise((r) => setTimeout(r, 500));
    for (const c of children) c.kill();
    for (const db of databases) await db.drop().catch((err: unknown) => console.error(`could not drop ${db.name}:`, err));
  }
  report(rounds);
}

/** The Writ gateway on a resource with no vault credential: nothing injected, nothing to scrub. */
function plainTarget(started: { child: ChildProcess; ready: Ready }, path: string, name = 'Writ gateway, nothing injected'): Target {
  const { token, dpopPrivateJwk, publicUrl } = started.ready;
  if (token === undefined || dpopPrivateJwk === undefined || publicUrl === undefined)
    throw new Error('writ-nothing-injected target did not hand over a task');
  return {
    name,
    origin: publicUrl,
    path,
    child: started.child,
    headers: proofHeaders(makeProofFactory(dpopPrivateJwk, `${publicUrl}${path}`, token), token),
  };
}

function report(rounds: Row[][]): void {
  const fmt = (n: number, d = 0): string => n.toFixed(d);
  const names = (rounds[0] ?? []).map((r) => r.name);
  const col = (i: number, f: (r: Row) => number): number[] => rounds.map((round) => f(round[i] as Row));
  const onPostgres = rounds.map((round) => {
    const [pg, asynchronous, durable, replay] = round.slice(6);
    if (pg === undefined || asynchronous === undefined || durable === undefined || replay === undefined) return undefined;
    const vs = (r: Row): { cpuUs: number; throughput: number; latencyMs: number } => ({
      cpuUs: (r.cpuUsPerRequest ?? 0) - (pg.cpuUsPerRequest ?? 0),
      throughput: r.throughput.rps / pg.throughput.rps,
      latencyMs: r.latency.p50ms - pg.latency.p50ms,
    });
    return { asynchronous: vs(asynchronous), durable: vs(durable), replay: vs(replay) };
  });
  const perRound = rounds.map((round) => {
    const [direct, bare, floor, writ, plain, budgeted] = round as [Row, Row, Row, Row, Row, Row];
    return {
      throughputVsFloor: writ.throughput.rps / floor.throughput.rps,
      throughputVsBare: writ.throughput.rps / bare.throughput.rps,
      cpuVsFloor: (writ.cpuUsPerRequest ?? 0) / (floor.cpuUsPerRequest ?? 1),
      addedWrit: writ.latency.p50ms - direct.latency.p50ms,
      addedFloor: floor.latency.p50ms - direct.latency.p50ms,
      addedBare: bare.latency.p50ms - direct.latency.p50ms,
      injectCpuUs: (writ.cpuUsPerRequest ?? 0) - (plain.cpuUsPerRequest ?? 0),
      injectThroughput: writ.throughput.rps / plain.throughput.rps,
      injectLatencyMs: writ.latency.p50ms - plain.latency.p50ms,
      budgetCpuUs: (budgeted.cpuUsPerRequest ?? 0) - (plain.cpuUsPerRequest ?? 0),
      budgetThroughput: budgeted.throughput.rps / plain.throughput.rps,
    };
  });
  const med = (k: keyof (typeof perRound)[number]): number => median(perRound.map((p) => p[k]));
  const range = (k: keyof (typeof perRound)[number], scale = 1, d = 1): string => perRound.map((p) => fmt(p[k] * scale, d)).join(' / ');
  const lines = [
    `bench/gateway-overhead — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `${rounds.length} interleaved rounds; throughput: ${CONNECTIONS} connections, ${SECONDS}s; latency: 1 connection, ${LATENCY_SECONDS}s; load generator, proxy and upstream share the machine; medians over rounds`,
    '',
    '| target | req/s | p50 ms | p99 ms | p50 ms @1 conn | proxy CPU µs/req |',
    '|---|---|---|---|---|---|',
    ...names.map((name, i) => {
      const cpu = col(i, (r) => r.cpuUsPerRequest ?? Number.NaN);
      return `| ${name} | ${fmt(median(col(i, (r) => r.throughput.rps)))} | ${fmt(median(col(i, (r) => r.throughput.p50ms)), 2)} | ${fmt(median(col(i, (r) => r.throughput.p99ms)), 2)} | ${fmt(median(col(i, (r) => r.latency.p50ms)), 3)} | ${Number.isNaN(cpu[0]) ? '—' : fmt(median(cpu))} |`;
    }),
    '',
    `Writ throughput / bare proxy + DPoP verify (the floor): median ${fmt(med('throughputVsFloor') * 100, 1)}% (rounds: ${range('throughputVsFloor', 100)} %)   (aim ≥ 75%)`,
    `Writ throughput / bare undici proxy: median ${fmt(med('throughputVsBare') * 100, 1)}%`,
    `Writ CPU per request / floor: median ${fmt(med('cpuVsFloor'), 2)}× (rounds: ${range('cpuVsFloor', 1, 2)})   (aim ≤ 1.35×)`,
    `Injecting the vault credential and scrubbing the answer (Writ against Writ with nothing injected): ${fmt(med('injectCpuUs'), 1)} µs CPU per request (rounds: ${range('injectCpuUs', 1, 1)}), throughput ${fmt(med('injectThroughput') * 100, 1)}% (rounds: ${range('injectThroughput', 100)} %), p50 at 1 connection ${med('injectLatencyMs') >= 0 ? '+' : ''}${fmt(med('injectLatencyMs'), 3)} ms`,
    `Budgets and rate limits, five counters in memory (Writ budgeted against Writ with none, nothing injected in either): ${fmt(med('budgetCpuUs'), 1)} µs CPU per request (rounds: ${range('budgetCpuUs', 1, 1)}), throughput ${fmt(med('budgetThroughput') * 100, 1)}% (rounds: ${range('budgetThroughput', 100)} %)`,
    `Added p50 latency at 1 connection vs direct: Writ +${fmt(med('addedWrit'), 3)} ms (rounds: ${range('addedWrit', 1, 3)}); floor +${fmt(med('addedFloor'), 3)} ms (rounds: ${range('addedFloor', 1, 3)}); bare proxy +${fmt(med('addedBare'), 3)} ms   (aim: Writ within 0.1 ms of the floor)`,
  ];
  const pgRounds = onPostgres.filter((p) => p !== undefined);
  for (const which of ['asynchronous', 'durable', 'replay'] as const) {
    if (pgRounds.length === 0) break;
    const m = (k: 'cpuUs' | 'throughput' | 'latencyMs'): number => median(pgRounds.map((p) => p[which][k]));
    const rs = (k: 'cpuUs' | 'throughput' | 'latencyMs', scale: number, d: number): string =>
      pgRounds.map((p) => fmt(p[which][k] * scale, d)).join(' / ');
    const what =
      which === 'replay'
        ? 'Proofs remembered on PostgreSQL without waiting for the WAL flush (against the default, durable)'
        : `Budgets on PostgreSQL, counters committed ${which === 'asynchronous' ? 'asynchronously (the default)' : 'durably'} (against Writ on PostgreSQL with none)`;
    lines.push(
      `${what}: ${fmt(m('cpuUs'), 1)} µs CPU per request (rounds: ${rs('cpuUs', 1, 1)}), throughput ${fmt(m('throughput') * 100, 1)}% (rounds: ${rs('throughput', 100, 1)} %), p50 at 1 connection ${m('latencyMs') >= 0 ? '+' : ''}${fmt(m('latencyMs'), 3)} ms (rounds: ${rs('latencyMs', 1, 3)})`,
    );
  }
  console.log(lines.join('\n'));
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL(`../results/gateway-overhead-${Date.now()}.json`, import.meta.url),
    JSON.stringify({ rounds, connections: CONNECTIONS, seconds: SECONDS }, null, 2),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
