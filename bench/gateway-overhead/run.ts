/**
 * bench/gateway-overhead — the same load, in one run, against: the upstream directly; a bare undici proxy; a bare
 * proxy that only verifies the DPoP proof signature (the floor); and the Writ gateway with every check on. Prints
 * requests/s, p50/p99 and the proxy process's CPU time per request, with Writ's figures as ratios of the baselines.
 *
 *   npm run bench:gateway [-- --seconds 10 --connections 32]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { JsonWebKey } from 'node:crypto';
import { runLoad, type LoadResult } from '../lib/load.js';
import { makeProofFactory, proofHeaders } from '@writ/dev/kit';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 32);
const LATENCY_SECONDS = arg('latency-seconds', 5);
const TARGET = fileURLToPath(new URL('./target.js', import.meta.url));

interface Ready {
  port: number;
  token?: string;
  dpopPrivateJwk?: JsonWebKey;
  publicUrl?: string;
}

function start(mode: string, upstream = ''): Promise<{ child: ChildProcess; ready: Ready }> {
  const profile = process.env['BENCH_PROFILE'] === mode ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [];
  const child = fork(TARGET, [mode, upstream], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: profile });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { ready: Ready }) => resolve({ child, ready: m.ready }));
    child.once('exit', (code) => reject(new Error(`${mode} exited with ${code}`)));
  });
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpu: NodeJS.CpuUsage }) => resolve(m.cpu.user + m.cpu.system));
    child.send({ cpu: true });
  });
}

interface Row {
  name: string;
  throughput: LoadResult;
  latency: LoadResult;
  cpuUsPerRequest: number | undefined;
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

async function main(): Promise<void> {
  const upstream = await start('upstream');
  const upstreamOrigin = `http://127.0.0.1:${upstream.ready.port}`;
  const rows: Row[] = [];
  const children: ChildProcess[] = [upstream.child];
  try {
    rows.push(await measure('direct', upstreamOrigin, '/v1/projects', undefined, proofHeaders(undefined, undefined)));

    const bare = await start('bare', upstreamOrigin);
    children.push(bare.child);
    rows.push(
      await measure(
        'bare undici proxy',
        `http://127.0.0.1:${bare.ready.port}`,
        '/v1/projects',
        bare.child,
        proofHeaders(undefined, undefined),
      ),
    );
    bare.child.kill();

    const bareDpop = await start('bare-dpop', upstreamOrigin);
    children.push(bareDpop.child);
    const keyForBare = (await import('node:crypto'))
      .generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'jwk' });
    const bareOrigin = `http://127.0.0.1:${bareDpop.ready.port}`;
    rows.push(
      await measure(
        'bare proxy + DPoP verify',
        bareOrigin,
        '/v1/projects',
        bareDpop.child,
        proofHeaders(makeProofFactory(keyForBare, `${bareOrigin}/v1/projects`, undefined), undefined),
      ),
    );
    bareDpop.child.kill();

    const writ = await start('writ', upstreamOrigin);
    children.push(writ.child);
    const { token, dpopPrivateJwk, publicUrl } = writ.ready;
    if (token === undefined || dpopPrivateJwk === undefined || publicUrl === undefined)
      throw new Error('writ target did not hand over a task');
    const path = '/r/api/v1/projects';
    rows.push(
      await measure(
        'Writ gateway (all checks)',
        publicUrl,
        path,
        writ.child,
        proofHeaders(makeProofFactory(dpopPrivateJwk, `${publicUrl}${path}`, token), token),
      ),
    );
  } finally {
    for (const c of children) if (c.connected) c.send({ exit: true });
    await new Promise((r) => setTimeout(r, 500));
    for (const c of children) c.kill();
  }
  report(rows);
}

function report(rows: Row[]): void {
  const [direct, bare, floor, writ] = rows as [Row, Row, Row, Row];
  const fmt = (n: number, d = 0): string => n.toFixed(d);
  const lines = [
    `bench/gateway-overhead — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`,
    `throughput: ${CONNECTIONS} connections, ${SECONDS}s; latency: 1 connection, ${LATENCY_SECONDS}s; load generator, proxy and upstream share the machine`,
    '',
    '| target | req/s | p50 ms | p99 ms | p50 ms @1 conn | proxy CPU µs/req |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.throughput.rps)} | ${fmt(r.throughput.p50ms, 2)} | ${fmt(r.throughput.p99ms, 2)} | ${fmt(r.latency.p50ms, 3)} | ${r.cpuUsPerRequest === undefined ? '—' : fmt(r.cpuUsPerRequest)} |`,
    ),
    '',
    `Writ throughput / bare proxy + DPoP verify (the floor): ${fmt((writ.throughput.rps / floor.throughput.rps) * 100, 1)}%   (aim ≥ 75%)`,
    `Writ throughput / bare undici proxy: ${fmt((writ.throughput.rps / bare.throughput.rps) * 100, 1)}%`,
    `Writ CPU per request / floor: ${fmt((writ.cpuUsPerRequest ?? 0) / (floor.cpuUsPerRequest ?? 1), 2)}×; / bare: ${fmt((writ.cpuUsPerRequest ?? 0) / (bare.cpuUsPerRequest ?? 1), 2)}×`,
    `Added p50 latency at 1 connection vs direct: Writ +${fmt(writ.latency.p50ms - direct.latency.p50ms, 3)} ms (aim < 0.3 ms); bare proxy +${fmt(bare.latency.p50ms - direct.latency.p50ms, 3)} ms; floor +${fmt(floor.latency.p50ms - direct.latency.p50ms, 3)} ms`,
  ];
  console.log(lines.join('\n'));
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL(`../results/gateway-overhead-${Date.now()}.json`, import.meta.url),
    JSON.stringify({ rows, connections: CONNECTIONS, seconds: SECONDS }, null, 2),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
