/**
 * The main thread's side of the SQLite audit writer thread (sqlite-audit-worker.ts). Requests (a journal write, a
 * chain batch) are answered in order; if the thread dies, every request in flight fails and the next starts a new
 * thread — the writer retries a chain batch as uncertain, so one that did commit before the thread died is not
 * written twice, and a journal entry written twice is ignored.
 */
import { Worker } from 'node:worker_threads';
import { GATE_HOLDER, WriteGate } from '../threads/index.js';
import type { AuditAppender } from './audit-appender.js';
import type { AuditRow } from './audit-row.js';
import type { SqliteSynchronous } from '../storage/index.js';
import type { JournalScope } from './sqlite-audit-append.js';

export interface AuditThreadConfig {
  path: string;
  synchronous: SqliteSynchronous;
  busyTimeoutMs: number;
  /** Whose journal entries these are, and whose recovery chains (one process: all). */
  journal?: JournalScope;
  /** The process's write gate for this file (threads/write-gate.ts): the thread takes it for each transaction. */
  gate?: SharedArrayBuffer;
}

export type AuditThreadRequest =
  /** A row the thread journaled is sent again as its id alone: the thread kept it (one copy across threads, not two). */
  | { op: 'append'; n: number; rows: ReadonlyArray<AuditRow | string>; uncertain: boolean; journaled: readonly string[] }
  | { op: 'journal'; n: number; entries: ReadonlyArray<{ n: number; row: AuditRow }> }
  | { op: 'recover'; n: number };

export type AuditThreadReply = { n: number; ok: true; value: number } | { n: number; ok: false; error: string };

/** `Omit` applied to each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class AuditThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditThreadError';
  }
}

export interface ThreadedSqliteAppender extends AuditAppender {
  /** Times the thread had to be started again. */
  readonly restarts: number;
  /** Tests only: end the thread as a crash would. */
  crashForTest(): Promise<void>;
}

export function threadedSqliteAppender(
  config: AuditThreadConfig,
  workerUrl = new URL('./sqlite-audit-worker.js', import.meta.url),
): ThreadedSqliteAppender {
  let worker: Worker | undefined;
  let n = 0;
  const inflight = new Map<number, { resolve(value: number): void; reject(e: Error): void }>();
  let closed = false;
  let restarts = 0;
  // Rows the current thread journaled and keeps until they are chained.
  const held = new Set<string>();
  const gate = config.gate !== undefined ? new WriteGate(config.gate) : undefined;

  const start = (): Worker => {
    const w = new Worker(workerUrl, { workerData: config });
    worker = w;
    w.on('message', (reply: AuditThreadReply) => {
      const p = inflight.get(reply.n);
      if (p === undefined) return;
      inflight.delete(reply.n);
      if (inflight.size === 0) w.unref();
      if (reply.ok) p.resolve(reply.value);
      else p.reject(new AuditThreadError(reply.error));
    });
    // 'error' is followed by 'exit': the death is handled once.
    let dead = false;
    const died = (why: string): void => {
      if (dead) return;
      dead = true;
      if (worker === w) {
        worker = undefined;
        held.clear(); // what the dead thread kept is gone: those rows are sent whole again
      }
      // A thread that died inside a transaction took its SQLite lock with it, but not its turn at the gate.
      gate?.release(GATE_HOLDER.auditThread);
      const pending = [...inflight.values()];
      inflight.clear();
      for (const p of pending) p.reject(new AuditThreadError(`audit writer thread stopped: ${why}`));
    };
    w.once('error', (err) => died(err.message));
    w.once('exit', (code) => died(`exit code ${code}`));
    // An idle thread must not hold the process open; one with a request in flight must (see `send`). After the
    // listeners: adding a 'message' listener refs the worker's port again.
    w.unref();
    return w;
  };
  // A thread that died is started again by the next request, so the writer's retry backoff also paces restarts (a
  // thread that cannot open the file would otherwise be restarted in a tight loop).
  start();

  const send = (request: DistributiveOmit<AuditThreadRequest, 'n'>): Promise<number> => {
    if (closed) return Promise.reject(new AuditThreadError('audit writer thread closed'));
    return new Promise<number>((resolve, reject) => {
      const id = ++n;
      inflight.set(id, { resolve, reject });
      let w = worker;
      if (w === undefined) {
        restarts++;
        w = start();
      }
      // Held open while a request is in flight: the caller is waiting for its answer.
      w.ref();
      w.postMessage({ ...request, n: id });
    });
  };

  return {
    runs: 'writer-thread',
    append: (rows, uncertain, journaled = []) => {
      const sent = held.size === 0 ? rows : rows.map((r) => (held.has(r.id) ? r.id : r));
      return send({ op: 'append', rows: sent, uncertain, journaled }).then(
        () => {
          for (const r of rows) held.delete(r.id);
        },
        (err: unknown) => {
          // Whatever the thread still holds, the retry sends whole.
          for (const r of rows) held.delete(r.id);
          throw err;
        },
      );
    },
    journal: (entries) =>
      send({ op: 'journal', entries }).then(() => {
        for (const e of entries) held.add(e.row.id);
      }),
    recover: () => send({ op: 'recover' }),
    async close() {
      closed = true;
      await worker?.terminate();
    },
    get restarts() {
      return restarts;
    },
    async crashForTest() {
      const w = worker;
      if (w === undefined) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      await w.terminate();
      await exited;
    },
  };
}
