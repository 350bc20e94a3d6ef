/**
 * bench/gateway-overhead/ab — one Writ target from two builds, alternated in rounds: this checkout's and another's
 * (`--baseline <checkout>`, built: e.g. `git worktree add /tmp/base <commit> && cd /tmp/base && npm ci && npx tsc -b`).
 * For a change whose effect is smaller than the drift between runs of the full bench: both builds meet the same
 * machine state, round after round.
 *
 *   node bench/dist/gateway-overhead/ab.js --baseline /tmp/base [--mode writ-pg --postgres postgres://…/test]
 *     [--rounds 3 --seconds 6 --latency-seconds 3 --connections 32]
 *
 * Modes are target.ts's (`writ`, `writ-nothing-injected`, `writ-pg`, …); a `writ-pg…` mode runs each round on a
 * scratch database of its own. Prints each round's throughput, CPU per request and p50 at one connection, and the
 * medians of both builds side by side.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { makeProofFactory, proofHeaders } from '@writ/dev/kit';
import { runLoad } from '../lib/load.js';
import { median } from '../lib/median.js';
import { cpuOf, startTarget, THIS_TARGET } from './target-process.js';
import { createScratchDatabase, scratchPrefix } from '../lib/scratch-database.js';

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};
const num = (name: string, dflt: number): number => Number(option(name) ?? dflt);
const BASELINE = option('baseline');
const MODE = option('mode') ?? 'writ-nothing-injected';
const POSTGRES = option('postgres');
const ROUNDS = num('rounds', 3);
const SECONDS = num('seconds', 6);
const LATENCY_SECONDS = num('latency-seconds', 3);
const CONNECTIONS = num('connections', 32);
const PATH = '/r/api/v1/projects';

function targetOf(checkout: string): string {
  const t = join(checkout, 'bench/dist/gateway-overhead/target.js');
  if (!existsSync(t)) throw new Error(`${t} not found: build that checkout first (npx tsc -b)`);
  return t;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((ok) => child.once('exit', ok));
  child.send({ exit: true });
  await exited;
}

interface Reading {
  rps: number;
  cpuUs: number;
  p50ms: number;
}

async function measure(target: string, upstream: string): Promise<Reading> {
  const scratch = MODE.startsWith('writ-pg') ? await createScratchDatabase(POSTGRES ?? '', `${scratchPrefix()}_ab`) : undefined;
  try {
    const w = await startTarget(MODE, { target, upstream, ...(scratch !== undefined ? { databaseUrl: scratch.url } : {}) });
    try {
      const { token, dpopPrivateJwk, publicUrl } = w.ready;
      if (token === undefined || dpopPrivateJwk === undefined || publicUrl === undefined) throw new Error('no task handed over');
      const headers = proofHeaders(makeProofFactory(dpopPrivateJwk, `${publicUrl}${PATH}`, token), token);
      // Warm up (JIT, connection pools, caches) as run.ts does, then throughput, then single-connection latency.
      await runLoad({ origin: publicUrl, path: PATH, connections: CONNECTIONS, durationMs: 2000, headers: headers(25_000) });
      const before = await cpuOf(w.child);
      const load = await runLoad({
        origin: publicUrl,
        path: PATH,
        connections: CONNECTIONS,
        durationMs: SECONDS * 1000,
        headers: headers(Math.ceil(SECONDS * 12_000)),
      });
      const cpu = (await cpuOf(w.child)) - before;
      const one = await runLoad({
        origin: publicUrl,
        path: PATH,
        connections: 1,
        durationMs: LATENCY_SECONDS * 1000,
        headers: headers(LATENCY_SECONDS * 4000),
      });
      if (load.errors + load.non2xx + one.errors + one.non2xx > 0) throw new Error(`${target}: failed requests`);
      return { rps: load.rps, cpuUs: cpu / load.requests, p50ms: one.p50ms };
    } finally {
      await stop(w.child);
    }
  } finally {
    await scratch?.drop();
  }
}

async function main(): Promise<void> {
  if (BASELINE === undefined) throw new Error('--baseline <checkout> is required');
  if (MODE.startsWith('writ-pg') && POSTGRES === undefined) throw new Error(`${MODE} needs --postgres <server URL>`);
  const builds = [
    { name: 'baseline', target: targetOf(resolve(BASELINE)) },
    { name: 'this', target: THIS_TARGET },
  ];
  const upstream = await startTarget('upstream');
  const readings = new Map<string, Reading[]>(builds.map((b) => [b.name, []]));
  console.log(
    `bench/gateway-overhead/ab — ${new Date().toISOString()} — mode ${MODE}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // The order alternates, so neither build always follows the other.
      for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
        const r = await measure(b.target, `http://127.0.0.1:${upstream.ready.port}`);
        readings.get(b.name)?.push(r);
        console.log(
          `round ${round + 1} ${b.name.padEnd(8)} ${r.rps.toFixed(0).padStart(6)} req/s  ${r.cpuUs.toFixed(0).padStart(5)} µs CPU/req  p50 @1 conn ${r.p50ms.toFixed(3)} ms`,
        );
      }
    }
  } finally {
    upstream.child.kill();
  }
  console.log(`\n| build | req/s | CPU µs/req | p50 ms @1 conn |\n|---|---|---|---|`);
  for (const [name, rs] of readings)
    console.log(
      `| ${name} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(rs.map((r) => r.cpuUs)).toFixed(0)} | ${median(rs.map((r) => r.p50ms)).toFixed(3)} |`,
    );
  console.log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
