/**
 * The main thread's side of the SQLite audit writer thread (sqlite-audit-worker.ts). One batch is in flight at a
 * time; if the thread dies, the batch in flight fails and a new thread starts — the writer retries the batch as
 * uncertain, so a batch that did commit before the thread died is not written twice.
 */
import { Worker } from 'node:worker_threads';
import type { AuditAppender } from './audit-appender.js';
import type { AuditRow } from './audit-row.js';
import type { SqliteSynchronous } from '../storage/index.js';

export interface AuditThreadConfig {
  path: string;
  synchronous: SqliteSynchronous;
  busyTimeoutMs: number;
}

export interface AuditThreadRequest {
  n: number;
  rows: readonly AuditRow[];
  uncertain: boolean;
}

export type AuditThreadReply = { n: number; ok: true } | { n: number; ok: false; error: string };

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
  let inflight: { n: number; resolve(): void; reject(e: Error): void } | undefined;
  let closed = false;
  let restarts = 0;

  const start = (): Worker => {
    const w = new Worker(workerUrl, { workerData: config });
    worker = w;
    // Pending writes keep the process alive through the writer's own promises; an idle thread must not.
    w.unref();
    w.on('message', (reply: AuditThreadReply) => {
      const p = inflight;
      if (p === undefined || p.n !== reply.n) return;
      inflight = undefined;
      if (reply.ok) p.resolve();
      else p.reject(new AuditThreadError(reply.error));
    });
    // 'error' is followed by 'exit': the death is handled once.
    let dead = false;
    const died = (why: string): void => {
      if (dead) return;
      dead = true;
      if (worker === w) worker = undefined;
      const p = inflight;
      inflight = undefined;
      p?.reject(new AuditThreadError(`audit writer thread stopped: ${why}`));
    };
    w.once('error', (err) => died(err.message));
    w.once('exit', (code) => died(`exit code ${code}`));
    return w;
  };
  // A thread that died is started again by the next batch, so the writer's retry backoff also paces restarts (a
  // thread that cannot open the file would otherwise be restarted in a tight loop).
  start();

  return {
    runs: 'writer-thread',
    append(rows, uncertain) {
      if (closed) return Promise.reject(new AuditThreadError('audit writer thread closed'));
      if (inflight !== undefined) return Promise.reject(new AuditThreadError('one batch at a time'));
      return new Promise<void>((resolve, reject) => {
        inflight = { n: ++n, resolve, reject };
        const request: AuditThreadRequest = { n, rows, uncertain };
        let w = worker;
        if (w === undefined) {
          restarts++;
          w = start();
        }
        w.postMessage(request);
      });
    },
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
