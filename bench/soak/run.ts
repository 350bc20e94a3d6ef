/**
 * bench/soak — a mixed load against one Writ process for a fixed time (default 10 minutes): token exchanges,
 * gateway calls (each with a fresh DPoP proof), task completions and operator revocations, and the audit writes all
 * of them cause. Passes when Writ never crashed, no request failed unexpectedly, the audit chain verifies, and the
 * Writ process's live heap stayed flat (sampled after a full GC).
 *
 *   npm run bench:soak [-- --minutes 10 --callers 8]
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { WritAgent, type Task } from '@writ/agent';
import { AdminClient } from '@writ/server';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const MINUTES = arg('minutes', 10);
const CALLERS = arg('callers', 8);
const EXCHANGERS = 2;
const MAX_ACTIVE = 40;

interface Counters {
  exchanges: number;
  calls: number;
  deniedAfterEnd: number;
  completions: number;
  revocations: number;
  errors: number;
}

async function main(): Promise<void> {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const client = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(client.publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const child = fork(fileURLToPath(new URL('./writ-node.js', import.meta.url)), [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let crashed: string | undefined;
  child.on('exit', (code, signal) => {
    if (!stopping) crashed = `Writ process exited: code ${code}, signal ${signal}`;
  });
  let stopping = false;
  child.send({ setup: { upstream: upstreamUrl, agentJwk: { ...jwk, kid, alg: 'ES256' } } });
  const ready = await new Promise<{ url: string; adminToken: string; idToken: string }>((resolve) =>
    child.once('message', (m: { ready: { url: string; adminToken: string; idToken: string } }) => resolve(m.ready)),
  );
  const admin = new AdminClient(ready.url, ready.adminToken);
  const agent = new WritAgent({ issuer: ready.url, agentId: 'soak-agent', clientKey: client.privateKey, clientKid: kid });
  const c: Counters = { exchanges: 0, calls: 0, deniedAfterEnd: 0, completions: 0, revocations: 0, errors: 0 };
  const active: Task[] = [];
  const ended = new Set<string>();
  const errors: string[] = [];
  const fail = (what: string): void => {
    c.errors++;
    if (errors.length < 20) errors.push(what);
  };
  const deadline = Date.now() + MINUTES * 60_000;
  const live = (): boolean => Date.now() < deadline && crashed === undefined;

  const exchanger = async (): Promise<void> => {
    while (live()) {
      try {
        const task = await agent.startTask({
          subjectToken: ready.idToken,
          subjectTokenType: TOKEN_TYPE.idToken,
          resource: `${ready.url}/r/api`,
          authorizationDetails: [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/**'] }],
          purpose: 'soak',
        });
        c.exchanges++;
        active.push(task);
        if (active.length > MAX_ACTIVE) {
          const done = active.shift() as Task;
          ended.add(done.id);
          await done.complete();
          c.completions++;
        }
      } catch (err) {
        fail(`exchange: ${(err as Error).message}`);
      }
    }
  };
  const caller = async (n: number): Promise<void> => {
    let i = n;
    while (live()) {
      const task = active[i++ % Math.max(active.length, 1)];
      if (task === undefined) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      try {
        const post = i % 10 === 0;
        const res = await task.fetch(
          `${ready.url}/r/api/v1/items/${i % 50}`,
          post ? { method: 'POST', body: JSON.stringify({ n: i }), headers: { 'content-type': 'application/json' } } : {},
        );
        const text = await res.text();
        if (res.status === 200) c.calls++;
        else if (res.status === 401 && ended.has(task.id)) c.deniedAfterEnd++;
        else fail(`call ${res.status} ${text.slice(0, 120)}`);
      } catch (err) {
        fail(`call: ${(err as Error).message}`);
      }
    }
  };
  const revoker = async (): Promise<void> => {
    while (live()) {
      await new Promise((r) => setTimeout(r, 250));
      const victim = active.length > 5 ? active.splice(Math.floor(active.length / 2), 1)[0] : undefined;
      if (victim === undefined) continue;
      ended.add(victim.id);
      try {
        await admin.post(`/tasks/${victim.id}/revoke`, { reason: 'soak' });
        c.revocations++;
      } catch (err) {
        fail(`revoke: ${(err as Error).message}`);
      }
    }
  };
  const samples: Array<{ t: number; heapUsed: number; rss: number }> = [];
  const sample = (): Promise<void> =>
    new Promise((resolve) => {
      if (!child.connected) return resolve();
      child.once('message', (m: { mem: { heapUsed: number; rss: number } }) => {
        samples.push({ t: (Date.now() - start) / 1000, heapUsed: m.mem.heapUsed, rss: m.mem.rss });
        console.log(
          `t=${Math.round((Date.now() - start) / 1000)}s heap=${(m.mem.heapUsed / 2 ** 20).toFixed(1)}MB rss=${(m.mem.rss / 2 ** 20).toFixed(1)}MB exchanges=${c.exchanges} calls=${c.calls} revocations=${c.revocations} completions=${c.completions} errors=${c.errors}`,
        );
        resolve();
      });
      child.send({ mem: true });
    });
  const sampler = async (): Promise<void> => {
    while (live()) {
      await sample();
      await new Promise((r) => setTimeout(r, 30_000));
    }
  };
  const start = Date.now();
  await Promise.all([
    ...Array.from({ length: EXCHANGERS }, exchanger),
    ...Array.from({ length: CALLERS }, (_, n) => caller(n)),
    revoker(),
    sampler(),
  ]);
  await sample();
  const verify = crashed === undefined ? await admin.get<{ ok: boolean; count?: number }>('/audit/verify') : { ok: false };
  stopping = true;
  child.send({ exit: true });
  upstream.close();

  // Heap trend after warm-up: least-squares slope over the samples past the first two minutes.
  const steady = samples.filter((s) => s.t >= Math.min(120, (MINUTES * 60) / 3));
  const slope = leastSquaresSlope(steady.map((s) => [s.t / 60, s.heapUsed / 2 ** 20] as [number, number]));
  const first = steady[0]?.heapUsed ?? 0;
  const last = steady.at(-1)?.heapUsed ?? 0;
  const flat = steady.length < 3 || Math.abs(slope) < 1 || last < first * 1.1;
  const ok = crashed === undefined && c.errors === 0 && verify.ok && flat;
  const summary = {
    minutes: MINUTES,
    ok,
    crashed: crashed ?? null,
    counters: c,
    ratePerSecond: { exchanges: c.exchanges / (MINUTES * 60), calls: c.calls / (MINUTES * 60) },
    audit: verify,
    heapMB: { steadyFirst: first / 2 ** 20, steadyLast: last / 2 ** 20, slopeMBPerMinute: slope },
    errors,
  };
  console.log(JSON.stringify(summary, null, 2));
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(new URL(`../results/soak-${Date.now()}.json`, import.meta.url), JSON.stringify({ summary, samples }, null, 2));
  process.exit(ok ? 0 : 1);
}

function leastSquaresSlope(points: Array<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
