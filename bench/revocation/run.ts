/**
 * bench/revocation — how fast a revocation takes hold, and what the revocation set costs the per-call path.
 *
 * Part A: for each of `--revocations` fresh task tokens, accepted first at every enforcement point, the admin API
 * revokes it (by `jti` and by task, alternately); from the moment the revoke call's response has arrived, each
 * enforcement point is called in a closed loop (a fresh DPoP proof per call) until it refuses with ERR_REVOKED_*;
 * the elapsed time is recorded per point: the gateway of the node that took the revoke call (same process), a
 * second node with `cluster.role: gateway` on the same PostgreSQL (another cluster node), and a service verifying
 * with `createWritVerifier` over the revocation feed (verifier over SSE).
 *
 * Part B: the same closed-loop load against a gateway whose revocation set is empty and one holding `--active`
 * unexpired revocations of every target type (bulk-inserted into the `revocations` table — bench set-up — and loaded
 * by `RevocationService.load()` at the node's start), rounds alternating, with the ratios; the nodes' RSS and heap;
 * and a micro-benchmark of `RevocationSet.check` with 0 and `--active` entries.
 *
 *   npm run bench:revocation [-- --revocations 1000 --active 1000000 --database-url postgres://… --quick]
 *                               [--parts a,b,micro,footprint] [--seconds 4 --latency-seconds 2 --rounds 6 --connections 32]
 *                               [--sqlite: the embedded store only, as when PostgreSQL is not there]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { AdminClient } from '@writ/server';
import { startDevIdentityProvider, type DevIdentityProvider } from '@writ/dev';
import { runLoad, type LoadResult } from '../lib/load.js';
import { createScratchDatabase, postgresReachable, scratchPrefix, type ScratchDatabase } from '../lib/scratch-database.js';
import {
  agentKeys,
  freePort,
  makeProofFactory,
  mintTasks,
  proofHeaders,
  registerAgentKeys,
  seedGrant,
  seedWrit,
  type AgentKeys,
} from '@writ/dev/kit';
import { insertRevocations } from './bulk-revocations.js';
import type { MicroResult } from './check-micro.js';
import { startChild, type Child, type Sample } from './child-process.js';
import type { VerifierReady, VerifierSetup } from './verifier-service.js';
import type { WritNodeReady } from './writ-node.js';

const argv = process.argv.slice(2);
const has = (name: string): boolean => argv.includes(`--${name}`);
const str = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? undefined : argv[i + 1];
};
const QUICK = has('quick');
const num = (name: string, dflt: number, quick: number): number => Number(str(name) ?? (QUICK ? quick : dflt));
const REVOCATIONS = num('revocations', 1000, 200);
const ACTIVE = num('active', 1_000_000, 200_000);
const SECONDS = num('seconds', 4, 2);
const LATENCY_SECONDS = num('latency-seconds', 2, 1);
const ROUNDS = num('rounds', 6, 2);
const CONNECTIONS = num('connections', 32, 32);
/** Give up on one enforcement point for one revocation after this long (and on the point after 3 in a row). */
const TIMEOUT_MS = num('timeout-ms', 5000, 5000);
/**
 * Which parts run: `a` (revoke → refused), `b` (gateway cost, 0 vs ACTIVE), `micro` (RevocationSet.check), and
 * `footprint` (on PostgreSQL: a node's start and memory, and a verifier's feed catch-up, with ACTIVE entries; not in
 * the default run, which it would take past five minutes while a node's start with 1M entries takes a minute).
 */
const PARTS = new Set((str('parts') ?? 'a,b,micro').split(','));
const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/test';
const AIM_P99_MS = 50;
const AIM_RATIO = 1.1;

const NODE = fileURLToPath(new URL('./writ-node.js', import.meta.url));
const VERIFIER = fileURLToPath(new URL('./verifier-service.js', import.meta.url));
const MICRO = fileURLToPath(new URL('./check-micro.js', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('../gateway-overhead/target.js', import.meta.url));
const ADMIN_TOKEN = `bench_${randomBytes(16).toString('hex')}`;
const ENV = { WRIT_KEK: randomBytes(32).toString('base64'), WRIT_ADMIN_TOKEN: ADMIN_TOKEN };
const AGENT = 'bench-agent';
const HTTP_PATH = '/r/api/v1/projects';

interface Store {
  label: string;
  postgres: boolean;
  overrides: Record<string, unknown>;
  bulk: { databaseUrl: string } | { sqlitePath: string };
}

interface Env {
  idp: DevIdentityProvider;
  upstream: string;
  keys: AgentKeys;
  /** A fresh store: PostgreSQL when the run has it (unless `sqlite`), else an embedded SQLite file. */
  newStore(name: string, sqlite?: boolean): Promise<Store>;
  /** Every child started, so that a failure stops them all. */
  children: Set<Child<unknown>>;
}

async function startNode(env: Env, name: string, store: Store, extra: Record<string, unknown> = {}): Promise<Child<WritNodeReady>> {
  const node = await startChild<WritNodeReady>(NODE, { env: ENV, overrides: { 'server.port': 0, ...store.overrides, ...extra } }, name);
  env.children.add(node);
  return node;
}

async function startVerifier(env: Env, issuer: string): Promise<Child<VerifierReady>> {
  const setup: VerifierSetup = { issuer, audience: `${issuer}/r/api`, feedToken: ADMIN_TOKEN, readyTimeoutMs: 120_000 };
  const verifier = await startChild<VerifierReady>(VERIFIER, setup, 'verifier service');
  env.children.add(verifier);
  return verifier;
}

async function stop(env: Env, child: Child<unknown> | undefined): Promise<void> {
  if (child === undefined) return;
  await child.stop();
  env.children.delete(child);
}

// ---------------------------------------------------------------------------------------------------------------
// Part A: revoke → refused

interface Point {
  name: string;
  client: Client;
  path: string;
  htu: string;
  /** ms from the revoke response to the first refused response, one per revocation that was refused in time. */
  latencies: number[];
  /** Round trip of the accepted call made before each revocation: what one call costs this point. */
  acceptedCallMs: number[];
  /** Calls the point still accepted after the revoke response arrived, summed. */
  acceptedAfter: number;
  /** Answers that were neither 200 nor a revocation refusal. */
  other: Record<string, number>;
  timeouts: number;
  consecutiveTimeouts: number;
  disabled: string | undefined;
}

interface Answer {
  status: number;
  code: string | undefined;
}

async function call(p: Point, token: string, proof: string): Promise<Answer> {
  const res = await p.client.request({ path: p.path, method: 'GET', headers: { authorization: `DPoP ${token}`, dpop: proof } });
  const text = await res.body.text();
  let code: string | undefined;
  if (res.statusCode !== 200) {
    try {
      code = (JSON.parse(text) as { code?: string }).code;
    } catch {
      code = undefined;
    }
  }
  return { status: res.statusCode, code };
}

/** Calls `p` until it refuses the token as revoked (or TIMEOUT_MS passes); `t0` is when the revoke response arrived. */
async function untilRefused(p: Point, token: string, proofs: string[], more: (n: number) => string[], t0: number): Promise<void> {
  let accepted = 0;
  for (;;) {
    const a = await call(p, token, proofs.pop() ?? (more(1)[0] as string));
    const now = performance.now();
    if (a.status === 401 && a.code?.startsWith('ERR_REVOKED_') === true) {
      p.latencies.push(now - t0);
      p.acceptedAfter += accepted;
      p.consecutiveTimeouts = 0;
      return;
    }
    if (a.status === 200) accepted++;
    else {
      const key = `${a.status} ${a.code ?? ''}`.trim();
      p.other[key] = (p.other[key] ?? 0) + 1;
    }
    if (now - t0 > TIMEOUT_MS) {
      p.timeouts++;
      p.acceptedAfter += accepted;
      if (++p.consecutiveTimeouts >= 3) p.disabled = `not refused within ${TIMEOUT_MS} ms three times in a row`;
      return;
    }
  }
}

interface PartA {
  revocations: number;
  byType: Record<'token' | 'task', number>;
  revokeCallMs: Record<'token' | 'task', Stats>;
  wrongRecord: number;
  points: Array<{
    name: string;
    skipped?: string;
    refused: number;
    stats?: Stats;
    /** p50 of one accepted call's round trip at this point (measured before each revocation). */
    callP50?: number;
    acceptedAfter: number;
    timeouts: number;
    other: Record<string, number>;
  }>;
  gatewayReadyz?: unknown;
}

async function partA(env: Env): Promise<PartA> {
  const store = await env.newStore('a');
  const control = await startNode(env, 'control node', store);
  const publicUrl = control.ready.publicUrl;
  const admin = new AdminClient(control.ready.url, ADMIN_TOKEN);
  await seedWrit(admin, { idp: env.idp, upstream: env.upstream, grant: { id: 'bench', policy: seedGrant(AGENT) } });
  await registerAgentKeys(admin, AGENT, env.keys, 'bench');
  const t0 = performance.now();
  const tasks = await mintTasks({ issuer: publicUrl, agentId: AGENT, keys: env.keys, idp: env.idp, count: REVOCATIONS, concurrency: 4 });
  console.log(`part A: ${REVOCATIONS} task tokens minted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // The second node starts after the seeding, so its register snapshot already holds the resource and agent.
  let gatewayNode: Child<WritNodeReady> | undefined;
  let gatewaySkip: string | undefined;
  if (!store.postgres) gatewaySkip = 'embedded SQLite: no cluster (give --database-url)';
  else {
    try {
      gatewayNode = await startNode(env, 'gateway node', store, {
        'cluster.role': 'gateway',
        'cluster.nodeId': 'bench-gateway',
        'server.publicUrl': publicUrl,
      });
    } catch (err) {
      gatewaySkip = `a node with cluster.role: gateway did not start (${(err as Error).message.split('\n').slice(0, 3).join(' ')})`;
    }
  }
  if (gatewaySkip !== undefined) console.log(`\n*** part A, "another cluster node" SKIPPED: ${gatewaySkip} ***\n`);
  const verifier = await startVerifier(env, publicUrl);

  const point = (name: string, origin: string, path: string, htu: string): Point => ({
    name,
    client: new Client(origin, { pipelining: 1, keepAliveTimeout: 60_000 }),
    path,
    htu,
    latencies: [],
    acceptedCallMs: [],
    acceptedAfter: 0,
    other: {},
    timeouts: 0,
    consecutiveTimeouts: 0,
    disabled: undefined,
  });
  const points: Point[] = [point('same process', control.ready.url, HTTP_PATH, `${publicUrl}${HTTP_PATH}`)];
  if (gatewayNode !== undefined) points.push(point('another cluster node', gatewayNode.ready.url, HTTP_PATH, `${publicUrl}${HTTP_PATH}`));
  points.push(point('verifier over SSE', verifier.ready.url, '/v1/projects', `${verifier.ready.url}/v1/projects`));

  const revokeMs: Record<'token' | 'task', number[]> = { token: [], task: [] };
  /** Revoke responses that named another revocation than the one just made. */
  let wrongRecord = 0;
  try {
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i];
      if (task === undefined) throw new Error('a task was not minted');
      const live = points.filter((p) => p.disabled === undefined);
      const factories = live.map((p) => makeProofFactory(env.keys.dpopPrivateJwk, p.htu, task.token));
      // In use first: accepted at every enforcement point (and so in each one's verified-token cache).
      await Promise.all(
        live.map(async (p, k) => {
          const proof = (factories[k] as (n: number) => string[])(1)[0] as string;
          const sentAt = performance.now();
          const a = await call(p, task.token, proof);
          p.acceptedCallMs.push(performance.now() - sentAt);
          if (a.status !== 200) throw new Error(`${p.name}: a fresh token was refused before its revocation: ${a.status} ${a.code}`);
        }),
      );
      const proofs = factories.map((f) => f(8));
      const type = i % 2 === 0 ? 'token' : 'task';
      const jti = jtiOf(task.token);
      const target = type === 'token' ? { type, jti } : { type, taskId: task.id };
      const sent = performance.now();
      const record = await admin.post<{ target?: { taskId?: string; jti?: string } } | undefined>('/revocations', {
        target,
        reason: 'bench',
      });
      const arrived = performance.now();
      if ((type === 'task' ? record?.target?.taskId : record?.target?.jti) !== (type === 'task' ? task.id : jti)) wrongRecord++;
      revokeMs[type].push(arrived - sent);
      await Promise.all(
        live.map((p, k) => untilRefused(p, task.token, proofs[k] as string[], factories[k] as (n: number) => string[], arrived)),
      );
      for (const p of live) if (p.disabled !== undefined) console.log(`part A: ${p.name} given up: ${p.disabled}`);
      if ((i + 1) % 200 === 0) console.log(`part A: ${i + 1}/${tasks.length} revocations`);
    }
    const gatewayReadyz = gatewayNode === undefined ? undefined : await fetch(`${gatewayNode.ready.url}/readyz`).then((r) => r.json());
    return {
      revocations: tasks.length,
      byType: { token: revokeMs.token.length, task: revokeMs.task.length },
      revokeCallMs: { token: stats(revokeMs.token), task: stats(revokeMs.task) },
      wrongRecord,
      points: [
        ...points.map((p) => ({
          name: p.name,
          refused: p.latencies.length,
          ...(p.latencies.length > 0 ? { stats: stats(p.latencies), callP50: stats(p.acceptedCallMs).p50 } : {}),
          acceptedAfter: p.acceptedAfter,
          timeouts: p.timeouts,
          other: p.other,
          ...(p.disabled !== undefined ? { skipped: `given up after ${p.latencies.length} refusals: ${p.disabled}` } : {}),
        })),
        ...(gatewaySkip !== undefined
          ? [{ name: 'another cluster node', skipped: gatewaySkip, refused: 0, acceptedAfter: 0, timeouts: 0, other: {} }]
          : []),
      ],
      ...(gatewayReadyz !== undefined ? { gatewayReadyz } : {}),
    };
  } finally {
    await Promise.all(points.map((p) => p.client.close()));
    await stop(env, verifier);
    await stop(env, gatewayNode);
    await stop(env, control);
  }
}

function jtiOf(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: unknown };
  if (typeof payload.jti !== 'string') throw new Error('task token without jti');
  return payload.jti;
}

// ---------------------------------------------------------------------------------------------------------------
// Part B: per-call cost with 0 and with ACTIVE revocations

interface Gateway {
  name: string;
  node: Child<WritNodeReady>;
  origin: string;
  /** Started after the revocations were in the table: its `startMs` includes loading them. */
  startMs: number;
  headers: (count: number) => () => Record<string, string>;
  rounds: Array<{ throughput: LoadResult; latency: LoadResult; cpuUsPerRequest: number }>;
  memory?: Sample;
}

/** A node on its own store, seeded, with one task token; restarted (on the same port) after `active` revocations are inserted. */
async function prepareGateway(env: Env, name: string, active: number): Promise<Gateway> {
  const store = await env.newStore(active === 0 ? 'empty' : 'full', true);
  const port = await freePort();
  let node = await startNode(env, name, store, { 'server.port': port });
  const admin = new AdminClient(node.ready.url, ADMIN_TOKEN);
  await seedWrit(admin, { idp: env.idp, upstream: env.upstream, grant: { id: 'bench', policy: seedGrant(AGENT) } });
  await registerAgentKeys(admin, AGENT, env.keys, 'bench');
  const [task] = await mintTasks({ issuer: node.ready.publicUrl, agentId: AGENT, keys: env.keys, idp: env.idp, count: 1 });
  if (task === undefined) throw new Error('no task');
  await stop(env, node);
  if (active > 0) {
    const ms = await insertRevocations(store.bulk, active, Math.floor(Date.now() / 1000) + 3600);
    console.log(`part B: ${active} revocations inserted into ${store.label} in ${(ms / 1000).toFixed(1)} s (bench set-up)`);
  }
  node = await startNode(env, name, store, { 'server.port': port });
  const entries = (await node.sample()).entries ?? 0;
  if (entries < active) throw new Error(`${name}: revocation set holds ${entries} entries, expected ${active}`);
  const factory = makeProofFactory(env.keys.dpopPrivateJwk, `${node.ready.publicUrl}${HTTP_PATH}`, task.token);
  return { name, node, origin: node.ready.url, startMs: node.ready.startMs, headers: proofHeaders(factory, task.token), rounds: [] };
}

interface PartB {
  active: number;
  rows: Array<{
    name: string;
    entries: number;
    startMs: number;
    rps: number;
    p50ms: number;
    p99ms: number;
    p50msAt1: number;
    cpuUsPerRequest: number;
    rssMB: number;
    heapMB: number;
  }>;
  /** Median of the per-round ratios (each round measures both gateways back to back), with their range. */
  ratio: Record<'p50' | 'rps' | 'p50At1' | 'cpu', { median: number; min: number; max: number }>;
}

async function partB(env: Env): Promise<PartB> {
  const empty = await prepareGateway(env, 'gateway, 0 revocations', 0);
  const full = await prepareGateway(env, `gateway, ${ACTIVE} revocations`, ACTIVE);
  const gateways = [empty, full];
  try {
    for (const g of gateways) g.memory = await g.node.sample(true);
    const measure = async (g: Gateway): Promise<void> => {
      const before = await g.node.sample();
      const throughput = await runLoad({
        origin: g.origin,
        path: HTTP_PATH,
        connections: CONNECTIONS,
        durationMs: SECONDS * 1000,
        headers: g.headers(SECONDS * 5000),
      });
      const after = await g.node.sample();
      const latency = await runLoad({
        origin: g.origin,
        path: HTTP_PATH,
        connections: 1,
        durationMs: LATENCY_SECONDS * 1000,
        headers: g.headers(LATENCY_SECONDS * 3000),
      });
      for (const r of [throughput, latency])
        if (r.errors > 0 || r.non2xx > 0) throw new Error(`${g.name}: ${r.errors} errors, ${r.non2xx} non-2xx responses`);
      g.rounds.push({ throughput, latency, cpuUsPerRequest: (after.cpuUs - before.cpuUs) / throughput.requests });
      console.log(
        `part B: ${g.name}: ${throughput.rps.toFixed(0)} req/s, p50 ${throughput.p50ms.toFixed(2)} ms, p99 ${throughput.p99ms.toFixed(2)} ms, p50 @1 conn ${latency.p50ms.toFixed(3)} ms`,
      );
    };
    // Warm-up (JIT, connections, the token cache), then rounds in alternating order, so drift hits both alike.
    for (const g of gateways)
      await runLoad({ origin: g.origin, path: HTTP_PATH, connections: CONNECTIONS, durationMs: 2000, headers: g.headers(8000) });
    for (let r = 0; r < ROUNDS; r++) for (const g of r % 2 === 0 ? [empty, full] : [full, empty]) await measure(g);
    const row = (g: Gateway): PartB['rows'][number] => ({
      name: g.name,
      entries: g.memory?.entries ?? 0,
      startMs: g.startMs,
      rps: median(g.rounds.map((r) => r.throughput.rps)),
      p50ms: median(g.rounds.map((r) => r.throughput.p50ms)),
      p99ms: median(g.rounds.map((r) => r.throughput.p99ms)),
      p50msAt1: median(g.rounds.map((r) => r.latency.p50ms)),
      cpuUsPerRequest: median(g.rounds.map((r) => r.cpuUsPerRequest)),
      rssMB: (g.memory?.rss ?? 0) / 2 ** 20,
      heapMB: (g.memory?.heapUsed ?? 0) / 2 ** 20,
    });
    const paired = (x: (r: Gateway['rounds'][number]) => number): { median: number; min: number; max: number } => {
      const rs = full.rounds.map((r, i) => x(r) / x(empty.rounds[i] as Gateway['rounds'][number]));
      return { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
    };
    return {
      active: ACTIVE,
      rows: [row(empty), row(full)],
      ratio: {
        p50: paired((r) => r.throughput.p50ms),
        rps: paired((r) => r.throughput.rps),
        p50At1: paired((r) => r.latency.p50ms),
        cpu: paired((r) => r.cpuUsPerRequest),
      },
    };
  } finally {
    for (const g of gateways) await stop(env, g.node);
  }
}

interface Footprint {
  startMs: number;
  rssMB: number;
  heapMB: number;
  entries: number;
  /** A createWritVerifier service started against the node: until ready (JWKS + the feed's full catch-up), and its memory. */
  verifierReadyMs: number;
  verifierRssMB: number;
  verifierHeapMB: number;
}

interface PostgresLoad {
  active: number;
  insertMs: number;
  empty: Footprint;
  full: Footprint;
}

/**
 * On PostgreSQL: a node's start (with `RevocationService.load()`) and memory with an empty log and with ACTIVE entries,
 * and a verifier's catch-up over the feed from it.
 */
async function postgresLoad(env: Env): Promise<PostgresLoad> {
  const store = await env.newStore('load');
  const footprint = async (): Promise<Footprint> => {
    const node = await startNode(env, 'node (load)', store);
    let verifier: Child<VerifierReady> | undefined;
    try {
      const m = await node.sample(true);
      verifier = await startVerifier(env, node.ready.publicUrl);
      const v = await verifier.sample(true);
      return {
        startMs: node.ready.startMs,
        rssMB: m.rss / 2 ** 20,
        heapMB: m.heapUsed / 2 ** 20,
        entries: m.entries ?? 0,
        verifierReadyMs: verifier.ready.readyMs,
        verifierRssMB: v.rss / 2 ** 20,
        verifierHeapMB: v.heapUsed / 2 ** 20,
      };
    } finally {
      await stop(env, verifier);
      await stop(env, node);
    }
  };
  await footprint(); // creates the schema (migrations), so the next start is a plain one
  const empty = await footprint();
  const insertMs = await insertRevocations(store.bulk, ACTIVE, Math.floor(Date.now() / 1000) + 3600);
  const full = await footprint();
  console.log(
    `PostgreSQL load: ${ACTIVE} inserted in ${(insertMs / 1000).toFixed(1)} s; node start ${empty.startMs.toFixed(0)} → ${full.startMs.toFixed(0)} ms; verifier ready ${empty.verifierReadyMs.toFixed(0)} → ${full.verifierReadyMs.toFixed(0)} ms`,
  );
  return { active: ACTIVE, insertMs, empty, full };
}

async function micro(): Promise<MicroResult> {
  const child = await startChild<MicroResult>(MICRO, { active: ACTIVE, rounds: 7, iterations: QUICK ? 500_000 : 2_000_000 }, 'micro');
  await child.stop();
  return child.ready;
}

// ---------------------------------------------------------------------------------------------------------------

interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
  return { n: s.length, p50: q(50), p99: q(99), max: s.at(-1) ?? NaN };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function startUpstream(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(UPSTREAM, ['upstream'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { ready: { port: number } }) => resolve({ child, url: `http://127.0.0.1:${m.ready.port}` }));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg()[0] ?? 0;
  const explicitUrl = str('database-url');
  const pgUrl = explicitUrl ?? DEFAULT_PG;
  const postgres = !has('sqlite') && (await postgresReachable(pgUrl));
  if (!postgres && explicitUrl !== undefined && !has('sqlite')) throw new Error(`PostgreSQL not reachable at ${explicitUrl}`);
  if (!postgres)
    console.log(
      `\n*** ${has('sqlite') ? '--sqlite' : `PostgreSQL not reachable at ${DEFAULT_PG}`}: running on embedded SQLite; "another cluster node" is SKIPPED ***\n`,
    );
  const prefix = scratchPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'writ-bench-revocation-'));
  const databases: ScratchDatabase[] = [];
  const upstream = await startUpstream();
  const idp = await startDevIdentityProvider({ port: 0 });
  const env: Env = {
    idp,
    upstream: upstream.url,
    keys: await agentKeys(),
    children: new Set(),
    newStore: async (name, sqlite = false) => {
      if (postgres && !sqlite) {
        const db = await createScratchDatabase(pgUrl, `${prefix}_${name}`);
        databases.push(db);
        return {
          label: `PostgreSQL database ${db.name}`,
          postgres: true,
          overrides: { 'storage.databaseUrl': db.url },
          bulk: { databaseUrl: db.url },
        };
      }
      const path = join(dir, `${name}.db`);
      return { label: `SQLite ${path}`, postgres: false, overrides: { 'storage.sqlitePath': path }, bulk: { sqlitePath: path } };
    },
  };
  try {
    const a = PARTS.has('a') ? await partA(env) : undefined;
    const b = PARTS.has('b') ? await partB(env) : undefined;
    if (PARTS.has('footprint') && !postgres) console.log('\n*** footprint: needs PostgreSQL; SKIPPED ***\n');
    const load = PARTS.has('footprint') && postgres ? await postgresLoad(env) : undefined;
    const m = PARTS.has('micro') ? await micro() : undefined;
    report({
      storage: postgres ? pgUrl.replace(/\/\/[^@]*@/, '//') : 'sqlite',
      a,
      b,
      load,
      m,
      seconds: (Date.now() - started) / 1000,
      loadAverage: [loadBefore, loadavg()[0] ?? 0],
    });
  } finally {
    for (const c of env.children) await c.stop().catch(() => undefined);
    await idp.close();
    upstream.child.send({ exit: true });
    for (const db of databases) await db.drop().catch((err: unknown) => console.error(`could not drop ${db.name}: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

type Fmt = (n: number, d?: number) => string;

function reportA(a: PartA, f: Fmt): string[] {
  const measured = a.points.filter((p) => p.stats !== undefined);
  const worstP99 = Math.max(...measured.map((p) => p.stats?.p99 ?? Infinity));
  const clusterMeasured = a.points.some((p) => p.name === 'another cluster node' && p.stats !== undefined && p.skipped === undefined);
  return [
    '',
    `Part A: revoke → first refused call, ${a.revocations} revocations (${a.byType.token} by jti, ${a.byType.task} by task), closed loop per enforcement point, a fresh DPoP proof per call`,
    '',
    '| enforcement point | refused | p50 ms | p99 ms | max ms | one accepted call, p50 ms | calls accepted after the revoke response | timeouts | other answers |',
    '|---|---|---|---|---|---|---|---|---|',
    ...a.points.map((p) =>
      p.stats === undefined
        ? `| ${p.name} | skipped: ${p.skipped ?? '?'} | | | | | | | |`
        : `| ${p.name} | ${p.refused} | ${f(p.stats.p50)} | ${f(p.stats.p99)} | ${f(p.stats.max)} | ${f(p.callP50 ?? NaN)} | ${p.acceptedAfter} | ${p.timeouts} | ${Object.entries(
            p.other,
          )
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ')} |${p.skipped !== undefined ? ` ${p.skipped}` : ''}`,
    ),
    '',
    `the revoke call itself (admin API, request → response): by jti p50 ${f(a.revokeCallMs.token.p50)} / p99 ${f(a.revokeCallMs.token.p99)} ms; by task p50 ${f(a.revokeCallMs.task.p50)} / p99 ${f(a.revokeCallMs.task.p99)} ms`,
    ...(a.wrongRecord > 0 ? [`!! ${a.wrongRecord} revoke responses named another revocation than the one just made`] : []),
    ...(a.gatewayReadyz !== undefined
      ? [
          `gateway node /readyz after the run: ${JSON.stringify((a.gatewayReadyz as { checks?: { revocation?: unknown } }).checks?.revocation)}`,
        ]
      : []),
    `aim p99 < ${AIM_P99_MS} ms at every enforcement point: ${worstP99 < AIM_P99_MS ? 'met' : 'NOT met'} (worst p99 ${f(worstP99)} ms)${clusterMeasured ? '' : ' — WITHOUT the other cluster node, which was skipped'}`,
  ];
}

function reportB(b: PartB, f: Fmt): string[] {
  const [e, full] = b.rows as [PartB['rows'][number], PartB['rows'][number]];
  return [
    '',
    `Part B: the gateway (embedded SQLite, as bench/gateway-overhead) with 0 and with ${b.active} active revocations (tokens, tasks, agents, users, keys; none matching), ${CONNECTIONS} connections × ${SECONDS} s and 1 connection × ${LATENCY_SECONDS} s per round, ${ROUNDS} rounds alternating; medians`,
    '',
    '| gateway | entries | start ms | req/s | p50 ms | p99 ms | p50 ms @1 conn | CPU µs/req | RSS MB | heap MB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...b.rows.map(
      (x) =>
        `| ${x.name} | ${x.entries} | ${f(x.startMs, 0)} | ${f(x.rps, 0)} | ${f(x.p50ms)} | ${f(x.p99ms)} | ${f(x.p50msAt1, 3)} | ${f(x.cpuUsPerRequest, 0)} | ${f(x.rssMB, 0)} | ${f(x.heapMB, 0)} |`,
    ),
    '',
    `ratios with/without (median of the ${ROUNDS} paired rounds, [min–max]): ${ratioLine('p50 @32 conn', b.ratio.p50, 'lower')}; ${ratioLine('req/s', b.ratio.rps, 'higher')}; ${ratioLine('p50 @1 conn', b.ratio.p50At1, 'lower')}; ${ratioLine('CPU µs/req', b.ratio.cpu, 'lower')}`,
    `memory for ${full.entries - e.entries} more entries: RSS ${f(e.rssMB, 0)} → ${f(full.rssMB, 0)} MB, heap ${f(e.heapMB, 0)} → ${f(full.heapMB, 0)} MB (${f(((full.heapMB - e.heapMB) * 2 ** 20) / Math.max(1, full.entries - e.entries), 0)} B/entry); start (incl. RevocationService.load()) ${f(e.startMs, 0)} → ${f(full.startMs, 0)} ms`,
  ];
}

function reportFootprint(load: PostgresLoad, f: Fmt): string[] {
  return [
    '',
    `Footprint on PostgreSQL: ${load.active} rows inserted in ${f(load.insertMs / 1000, 1)} s (bench set-up); node start ${f(load.empty.startMs, 0)} ms with ${load.empty.entries} entries → ${f(load.full.startMs, 0)} ms with ${load.full.entries}; RSS ${f(load.empty.rssMB, 0)} → ${f(load.full.rssMB, 0)} MB, heap ${f(load.empty.heapMB, 0)} → ${f(load.full.heapMB, 0)} MB`,
    `a verifier (createWritVerifier) started against it: ready (JWKS + the feed's whole catch-up) in ${f(load.empty.verifierReadyMs, 0)} → ${f(load.full.verifierReadyMs, 0)} ms; its RSS ${f(load.empty.verifierRssMB, 0)} → ${f(load.full.verifierRssMB, 0)} MB, heap ${f(load.empty.verifierHeapMB, 0)} → ${f(load.full.verifierHeapMB, 0)} MB`,
  ];
}

/** A with/without ratio and the aim: at most AIM_RATIO worse (for req/s: at least 1/AIM_RATIO of it). */
function ratioLine(name: string, x: { median: number; min: number; max: number }, better: 'lower' | 'higher'): string {
  const ok = better === 'lower' ? x.median < AIM_RATIO : x.median > 1 / AIM_RATIO;
  const aim = better === 'lower' ? `< ${AIM_RATIO}` : `> ${(1 / AIM_RATIO).toFixed(3)}`;
  return `${name} ${x.median.toFixed(3)} [${x.min.toFixed(2)}–${x.max.toFixed(2)}] (aim ${aim}: ${ok ? 'met' : 'NOT met'})`;
}

function report(r: {
  storage: string;
  a: PartA | undefined;
  b: PartB | undefined;
  load: PostgresLoad | undefined;
  m: MicroResult | undefined;
  seconds: number;
  /** The machine's 1-minute load average before and after the run (other work on the same cores skews every figure). */
  loadAverage: [number, number];
}): void {
  const f = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '—');
  const { a, b, load, m } = r;
  const lines = [
    `bench/revocation — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), storage ${r.storage}; ${f(r.seconds, 0)} s; load average ${f(r.loadAverage[0])} → ${f(r.loadAverage[1])}`,
    ...(a === undefined ? [] : reportA(a, f)),
    ...(b === undefined ? [] : reportB(b, f)),
    ...(load === undefined ? [] : reportFootprint(load, f)),
    ...(m === undefined
      ? []
      : [
          '',
          `RevocationSet.check micro-benchmark: 0 entries ${f(m.emptyNs, 1)} ns/op, ${m.active} entries ${f(m.fullNs, 1)} ns/op, ratio ${f(m.ratio, 3)}; apply ${f(m.applyNsPerEntry, 0)} ns/entry; ${f(m.heapBytesPerEntry, 0)} B heap/entry; one prune of the full set (nothing expired) ${f(m.pruneMs, 1)} ms on the event loop`,
        ]),
  ];
  console.log(`\n${lines.join('\n')}`);
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(new URL(`../results/revocation-${Date.now()}.json`, import.meta.url), JSON.stringify(r, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
