/**
 * Micro-benchmark of the per-call revocation lookup, `RevocationSet.check`, in its own process: one set empty, one
 * holding `active` entries of every target type (none matching), the same claims (a delegated token: a parent task in
 * `task_chain`, an `act` chain of two agents, a bound key) checked against each, rounds alternating. Also the cost of
 * building the full set (`apply` per entry, as `RevocationService.load()` does) and its heap per entry.
 */
import type { TaskTokenClaims } from '@writ/protocol';
import { RevocationSet } from '@writ/verify/internal';
import { serveChild } from './child-process.js';
import { syntheticEntry, syntheticTargets } from './bulk-revocations.js';

export interface MicroResult {
  active: number;
  /** Median over rounds, ns per check. */
  emptyNs: number;
  fullNs: number;
  ratio: number;
  applyNsPerEntry: number;
  heapBytesPerEntry: number;
  /** One `prune` of the full set when nothing has expired (it runs every minute on the event loop), ms. */
  pruneMs: number;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

serveChild<{ active: number; rounds: number; iterations: number }, MicroResult>(async ({ active, rounds, iterations }) => {
  const now = Math.floor(Date.now() / 1000);
  const claims: TaskTokenClaims = {
    iss: 'http://127.0.0.1:7420',
    sub: 'dev:alice',
    aud: 'http://127.0.0.1:7420/r/api',
    client_id: 'bench-agent',
    act: { sub: 'bench-agent', act: { sub: 'parent-agent' } },
    authorization_details: [{ type: 'http', actions: ['GET'], paths: ['/v1/**'] }],
    cnf: { jkt: 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg' },
    jti: 'Zk3s9bJmQ1xR7pT2vW4yA0',
    iat: now - 10,
    exp: now + 600,
    task_id: 'task_01JBENCHCHILD000000000000',
    task_chain: ['task_01JBENCHROOT0000000000000'],
  };
  const empty = new RevocationSet();
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const full = new RevocationSet();
  // One chunk at a time in its own call, so no chunk's entry objects are still reachable when the heap is measured.
  const applyChunk = (from: number, count: number): number => {
    const entries = syntheticTargets(from, count).map((t, k) => syntheticEntry(t, from + k + 1, now, now + 3600));
    const t0 = process.hrtime.bigint();
    for (const e of entries) full.apply(e);
    return Number(process.hrtime.bigint() - t0);
  };
  let applyNs = 0;
  for (let from = 0; from < active; from += 100_000) applyNs += applyChunk(from, Math.min(100_000, active - from));
  gc();
  const heapBytesPerEntry = active === 0 ? 0 : (process.memoryUsage().heapUsed - heap0) / active;
  const jkt = claims.cnf?.jkt ?? '';
  const time = (set: RevocationSet): number => {
    let hits = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) if (set.check(claims, jkt) !== null) hits++;
    const ns = Number(process.hrtime.bigint() - t0) / iterations;
    if (hits !== 0) throw new Error('a synthetic entry matched the bench claims');
    return ns;
  };
  // Warm-up: both sets through the same call site, so neither is measured before the JIT has seen the other.
  time(empty);
  time(full);
  const e: number[] = [];
  const f: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      e.push(time(empty));
      f.push(time(full));
    } else {
      f.push(time(full));
      e.push(time(empty));
    }
  }
  const p0 = performance.now();
  if (full.prune(now) !== 0) throw new Error('prune dropped unexpired entries');
  const pruneMs = performance.now() - p0;
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const emptyNs = median(e);
  const fullNs = median(f);
  return {
    ready: {
      active: full.size,
      emptyNs,
      fullNs,
      ratio: fullNs / emptyNs,
      applyNsPerEntry: active === 0 ? 0 : applyNs / active,
      heapBytesPerEntry,
      pruneMs,
    },
    close: async () => undefined,
  };
});
