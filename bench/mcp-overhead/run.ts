/**
 * bench/mcp-overhead — MCP `tools/call` round trips with the stock SDK client (`Client` + `StreamableHTTPClientTransport`),
 * in one run: **directly** to a real MCP server over Streamable HTTP, and **through Writ's MCP gateway** (the real
 * server on SQLite, the soak's Writ node; `createMcpFetch`, so every request carries the task token and a fresh DPoP
 * proof, as in production). Upstream and Writ each run in their own process. Measures latency at one call in flight
 * and throughput with `--concurrency` calls in flight over `--clients` sessions; the two targets alternate, segment by
 * segment, for `--rounds` rounds so that drift on a noisy machine hits both alike. Prints calls/s, p50/p99, the CPU
 * time per call of Writ, the upstream and the client process, and Writ's figures against direct.
 *
 *   npm run bench:mcp [-- --latency-seconds 3 --seconds 4 --concurrency 16 --clients 4 --rounds 2 --warmup-seconds 2]
 *   BENCH_PROFILE=writ npm run bench:mcp   # also writes a CPU profile of the Writ process to bench/results/profiles
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TOKEN_TYPE } from '@writ/protocol';
import { createDpopProof, createMcpFetch, generateDpopKey, WritAgent, type Task } from '@writ/agent';
import { AdminClient } from '@writ/server';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const LATENCY_SECONDS = arg('latency-seconds', 3);
const SECONDS = arg('seconds', 4);
const CONCURRENCY = arg('concurrency', 16);
const CLIENTS = arg('clients', 4);
const ROUNDS = arg('rounds', 2);
const WARMUP_SECONDS = arg('warmup-seconds', 2);
// The soak's Writ node issues 60-second tokens; a fresh task (and fresh sessions) is opened between segments when the
// current one would not outlive the next, so one segment must fit well inside a token's life.
const MAX_SEGMENT_SECONDS = 45;
const PROFILE = process.env['BENCH_PROFILE'];
// Other work on the machine skews everything: the 1-minute load average goes into the report.
const LOAD_AT_START = loadavg()[0]?.toFixed(2);
const AGENT_ID = 'soak-agent';
const CALL = { name: 'echo', arguments: { message: 'x' } };

const GRANT =
  'permit (principal == Writ::Agent::"soak-agent", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools") when { context.user == Writ::User::"dev:alice" && context.tool == "echo" };';

function forkChild(file: string, name: string, execArgv: string[] = []): ChildProcess {
  const profile = PROFILE === name ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : [];
  return fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...execArgv, ...profile],
  });
}

/** Sends `message` (if any) and resolves with the child's next message that has `key`. */
function ask<T>(child: ChildProcess, key: string, message?: Record<string, unknown>): Promise<T> {
  const answer = new Promise<T>((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>): void => {
      if (!(key in m)) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void => reject(new Error(`child exited with ${code} while waiting for ${key}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  if (message !== undefined) child.send(message);
  return answer;
}

const micros = (u: NodeJS.CpuUsage): number => u.user + u.system;

/** CPU time of the upstream and Writ processes (microseconds), and of this process, the clients. */
interface Cpu {
  upstream: number;
  writ: number;
  client: number;
}

/** A target: clients (one MCP session each) that call `echo` directly or through Writ. */
interface Target {
  name: 'direct' | 'writ';
  clients: Client[];
  /** Makes sure the clients can run `seconds` more (through Writ: a task that outlives them). */
  ready(seconds: number): Promise<void>;
}

interface Sample {
  calls: number;
  errors: number;
  seconds: number;
  hist: RecordableHistogram;
  cpu: Cpu;
}

// Node prints every warning to stderr; the client's MaxListenersExceededWarning (see docs/benchmarks.md) would print
// once per call past the limit, on the measured path. Each kind is printed once and counted.
const warnings = new Map<string, number>();
process.removeAllListeners('warning');
process.on('warning', (w) => {
  const n = warnings.get(w.name) ?? 0;
  if (n === 0) console.error(`${w.name}: ${w.message} (further ones counted)`);
  warnings.set(w.name, n + 1);
});

async function main(): Promise<void> {
  for (const s of [LATENCY_SECONDS, SECONDS, WARMUP_SECONDS])
    if (!(s > 0 && s <= MAX_SEGMENT_SECONDS)) throw new Error(`segment durations must be in (0, ${MAX_SEGMENT_SECONDS}] s: raise --rounds`);
  if (!(CLIENTS >= 1 && CONCURRENCY >= CLIENTS)) throw new Error('need --concurrency ≥ --clients ≥ 1');

  const upstream = forkChild('./upstream.js', 'upstream');
  const upstreamUrl = (await ask<{ ready: { url: string } }>(upstream, 'ready')).ready.url;

  const clientKey = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(clientKey.publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const writ = forkChild('../soak/writ-node.js', 'writ');
  const { url, adminToken, idToken } = (
    await ask<{ ready: { url: string; adminToken: string; idToken: string } }>(writ, 'ready', {
      setup: { upstream: upstreamUrl, agentJwk: { ...jwk, kid, alg: 'ES256' } },
    })
  ).ready;
  const admin = new AdminClient(url, adminToken);
  // The soak node seeds an HTTP resource, its secret `api-key`, the agent and an HTTP grant; the MCP resource and
  // its grant are added here. The upstream gets the vault's credential in a header, as a production one would.
  await admin.post('/resources', {
    id: 'tools',
    kind: 'mcp',
    baseUrl: upstreamUrl,
    secretId: 'api-key',
    inject: { mode: 'header', name: 'x-api-key' },
  });
  await admin.post('/grants', { id: 'mcp-bench', policy: GRANT });
  const mcpUrl = `${url}/mcp/tools`;
  const dpopKey = await generateDpopKey();
  const agent = new WritAgent({ issuer: url, agentId: AGENT_ID, clientKey: clientKey.privateKey, clientKid: kid, dpopKey });

  const cpu = async (): Promise<Cpu> => {
    const [u, w] = await Promise.all([
      ask<{ cpu: NodeJS.CpuUsage }>(upstream, 'cpu', { cpu: true }),
      // The soak node answers `mem` with its memory and CPU time (no full GC here: it runs without --expose-gc).
      ask<{ cpu: NodeJS.CpuUsage }>(writ, 'cpu', { mem: true }),
    ]);
    return { upstream: micros(u.cpu), writ: micros(w.cpu), client: micros(process.cpuUsage()) };
  };

  const connect = async (fetchFor: (() => typeof fetch) | undefined, endpoint: string): Promise<Client[]> =>
    Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const c = new Client({ name: 'bench-agent', version: '1.0.0' });
        const f = fetchFor?.();
        await c.connect(new StreamableHTTPClientTransport(new URL(endpoint), f === undefined ? {} : { fetch: f }));
        return c;
      }),
    );

  const direct: Target = { name: 'direct', clients: await connect(undefined, upstreamUrl), ready: async () => undefined };
  let task: Task | undefined;
  const through: Target = {
    name: 'writ',
    clients: [],
    async ready(seconds) {
      if (task !== undefined && task.expiresAt - Date.now() / 1000 > seconds + 10) return;
      await Promise.all(this.clients.map((c) => c.close()));
      task = await agent.startTask({
        subjectToken: idToken,
        subjectTokenType: TOKEN_TYPE.idToken,
        resource: mcpUrl,
        authorizationDetails: [{ type: 'mcp', tools: ['echo'] }],
        purpose: 'bench',
      });
      const t = task;
      this.clients = await connect(() => createMcpFetch({ task: t, url: mcpUrl }), mcpUrl);
    },
  };

  // What the client pays for a fresh proof (jose ES256 + `ath`), alone, while nothing else runs: part of Writ's added
  // latency is spent in the client, not in Writ.
  const proofUs = await proofCost(dpopKey);

  const results: Record<string, Sample[]> = {};
  try {
    for (const t of [direct, through]) {
      await t.ready(WARMUP_SECONDS);
      await run(t, CONCURRENCY, WARMUP_SECONDS, cpu);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of [direct, through]) {
        await t.ready(LATENCY_SECONDS);
        (results[`latency ${t.name}`] ??= []).push(await run(t, 1, LATENCY_SECONDS, cpu));
      }
      for (const t of [direct, through]) {
        await t.ready(SECONDS);
        (results[`throughput ${t.name}`] ??= []).push(await run(t, CONCURRENCY, SECONDS, cpu));
      }
    }
  } finally {
    await Promise.all([...direct.clients, ...through.clients].map((c) => c.close().catch(() => undefined)));
    for (const c of [writ, upstream]) if (c.connected) c.send({ exit: true });
    await new Promise((r) => setTimeout(r, PROFILE === undefined ? 500 : 3000));
    for (const c of [writ, upstream]) c.kill();
  }
  report(results, proofUs);
}

/** `inFlight` closed loops spread over the target's clients, each calling `echo` one call after another. */
async function run(t: Target, inFlight: number, seconds: number, cpu: () => Promise<Cpu>): Promise<Sample> {
  const hist = createHistogram();
  let calls = 0;
  let errors = 0;
  const clients = inFlight === 1 ? t.clients.slice(0, 1) : t.clients;
  const before = await cpu();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, i) => {
      const client = clients[i % clients.length] as Client;
      while (performance.now() < deadline) {
        const t0 = process.hrtime.bigint();
        try {
          const r = await client.callTool(CALL);
          const text = (r.content as { text?: string }[] | undefined)?.[0]?.text;
          if (text !== 'echo: x') throw new Error(`unexpected answer ${JSON.stringify(r).slice(0, 200)}`);
          hist.record(Number(process.hrtime.bigint() - t0) || 1);
          calls++;
        } catch (err) {
          if (errors++ < 3) console.error(`${t.name}: ${(err as Error).message}`);
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const after = await cpu();
  return {
    calls,
    errors,
    seconds: elapsed,
    hist,
    cpu: { upstream: after.upstream - before.upstream, writ: after.writ - before.writ, client: after.client - before.client },
  };
}

async function proofCost(key: Awaited<ReturnType<typeof generateDpopKey>>): Promise<number> {
  const token = 'x'.repeat(700);
  const n = 1000;
  for (let i = 0; i < 200; i++) await createDpopProof(key, { htm: 'POST', htu: 'http://127.0.0.1/mcp/tools', accessToken: token });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await createDpopProof(key, { htm: 'POST', htu: 'http://127.0.0.1/mcp/tools', accessToken: token });
  return ((performance.now() - t0) * 1000) / n;
}

interface Row {
  phase: string;
  target: string;
  calls: number;
  errors: number;
  callsPerSecond: number;
  p50ms: number;
  p99ms: number;
  roundsP50ms: number[];
  roundsCallsPerSecond: number[];
  cpuUsPerCall: Cpu;
}

function combine(key: string, samples: Sample[]): Row {
  const hist = createHistogram();
  for (const s of samples) hist.add(s.hist);
  const calls = samples.reduce((a, s) => a + s.calls, 0);
  const seconds = samples.reduce((a, s) => a + s.seconds, 0);
  const per = (f: (c: Cpu) => number): number => samples.reduce((a, s) => a + f(s.cpu), 0) / calls;
  const [phase = '', target = ''] = key.split(' ');
  return {
    phase,
    target,
    calls,
    errors: samples.reduce((a, s) => a + s.errors, 0),
    callsPerSecond: calls / seconds,
    p50ms: hist.percentile(50) / 1e6,
    p99ms: hist.percentile(99) / 1e6,
    roundsP50ms: samples.map((s) => s.hist.percentile(50) / 1e6),
    roundsCallsPerSecond: samples.map((s) => s.calls / s.seconds),
    cpuUsPerCall: { upstream: per((c) => c.upstream), writ: per((c) => c.writ), client: per((c) => c.client) },
  };
}

function report(results: Record<string, Sample[]>, proofUs: number): void {
  const rows = Object.entries(results).map(([k, s]) => combine(k, s));
  const get = (phase: string, target: string): Row => rows.find((r) => r.phase === phase && r.target === target) as Row;
  const [ld, lw, td, tw] = [get('latency', 'direct'), get('latency', 'writ'), get('throughput', 'direct'), get('throughput', 'writ')];
  const fmt = (n: number, d = 0): string => n.toFixed(d);
  const name = (r: Row): string => (r.target === 'direct' ? 'direct' : 'through Writ');
  const addedP50 = lw.p50ms - ld.p50ms;
  const lines = [
    `bench/mcp-overhead — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${LOAD_AT_START}, at end ${loadavg()[0]?.toFixed(2)}`,
    `tools/call echo, stock MCP SDK client; latency: 1 call in flight, ${LATENCY_SECONDS}s; throughput: ${CONCURRENCY} in flight over ${CLIENTS} sessions, ${SECONDS}s; ${ROUNDS} rounds, direct and Writ alternating; clients, Writ and upstream share the machine`,
    '',
    '| phase | target | calls/s | p50 ms | p99 ms | Writ CPU µs/call | upstream CPU µs/call | client CPU µs/call |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.phase === 'latency' ? '1 in flight' : `${CONCURRENCY} in flight`} | ${name(r)} | ${fmt(r.callsPerSecond)} | ${fmt(r.p50ms, 3)} | ${fmt(r.p99ms, 3)} | ${r.target === 'direct' ? '—' : fmt(r.cpuUsPerCall.writ)} | ${fmt(r.cpuUsPerCall.upstream)} | ${fmt(r.cpuUsPerCall.client)} |`,
    ),
    '',
    `Added p50 at 1 in flight: +${fmt(addedP50, 3)} ms (aim ≤ 1 ms: ${addedP50 <= 1 ? 'met' : 'NOT met'}); added p99: +${fmt(lw.p99ms - ld.p99ms, 3)} ms`,
    `  of which the client's fresh DPoP proof (jose ES256 + ath, measured alone): ${fmt(proofUs / 1000, 3)} ms; Writ CPU per call at 1 in flight: ${fmt(lw.cpuUsPerCall.writ / 1000, 3)} ms`,
    `  per round p50 ms: direct ${ld.roundsP50ms.map((v) => fmt(v, 3)).join(' / ')}; Writ ${lw.roundsP50ms.map((v) => fmt(v, 3)).join(' / ')}`,
    `Throughput through Writ / direct: ${fmt((tw.callsPerSecond / td.callsPerSecond) * 100, 1)}% (${fmt(tw.callsPerSecond)} vs ${fmt(td.callsPerSecond)} calls/s; per round: direct ${td.roundsCallsPerSecond.map((v) => fmt(v)).join(' / ')}, Writ ${tw.roundsCallsPerSecond.map((v) => fmt(v)).join(' / ')})`,
    `Writ CPU per call under load: ${fmt(tw.cpuUsPerCall.writ)} µs; the upstream's own: ${fmt(td.cpuUsPerCall.upstream)} µs direct, ${fmt(tw.cpuUsPerCall.upstream)} µs through Writ`,
    ...(warnings.size > 0 ? [`Warnings in the client process: ${[...warnings].map(([k, n]) => `${k} ×${n}`).join(', ')}`] : []),
  ];
  console.log(lines.join('\n'));
  const errors = rows.reduce((a, r) => a + r.errors, 0);
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL(`../results/mcp-overhead-${Date.now()}.json`, import.meta.url),
    JSON.stringify(
      { rows, proofUs, concurrency: CONCURRENCY, clients: CLIENTS, seconds: SECONDS, latencySeconds: LATENCY_SECONDS, rounds: ROUNDS },
      null,
      2,
    ),
  );
  if (errors > 0) {
    console.error(`${errors} calls failed`);
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
