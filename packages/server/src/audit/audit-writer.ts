/**
 * The audit writer. Two ways in, one ordered queue, one chain:
 *
 * - `record` is synchronous and does no I/O: the event joins the queue and is written within `flushIntervalMs`
 *   (denials, outcomes, admin changes — nothing has reached an upstream on their strength).
 * - `commit` is the write-ahead: it resolves only once the event's transaction has committed, and gateways forward a
 *   call only after that. Commits are grouped: everything queued when a write starts goes in its transaction, and a
 *   write starts as soon as the previous one ends, so under load many calls share one commit and one wait.
 *
 * The store work runs where the appender puts it (audit-appender.ts): on SQLite in a thread of its own with its own
 * connection, on PostgreSQL on a connection of its own. Batches are handed over one at a time, so seq order in the
 * table is queue order in this process.
 *
 * Nothing is dropped silently: a failed batch stays queued, in order, and is retried with backoff; while the queue is
 * past its bound or the last write failed, `healthy()` is false, `commit` refuses at once and enforcement points
 * refuse calls (fail closed). A commit that does not complete within `commitTimeoutMs` rejects — the call is refused —
 * but its event stays queued, and is written when the store is back, followed by the outcome saying it was refused.
 */
import type { InternalErrorCode } from '../errors/index.js';
import type { AuditEventInput } from './audit-event.js';
import { normalizeAuditEvent } from './audit-event.js';
import type { AuditAppender } from './audit-appender.js';
import { auditRow, type AuditRow } from './audit-row.js';

export interface AuditWriter {
  /** Queues one event; O(1) apart from serialising it, never waits on I/O. Throws TypeError on a malformed event. */
  record(event: AuditEventInput): void;
  /**
   * Queues one event and resolves with its id once it is committed; rejects with AuditUnavailableError when the
   * commit takes longer than `commitTimeoutMs` (the event stays queued and is written later). Throws — synchronously,
   * so the caller knows nothing was queued — AuditUnavailableError while the writer is unhealthy, TypeError on a
   * malformed event.
   */
  commit(event: AuditEventInput): Promise<string>;
  /** Writes everything queued before the call; rejects if that write failed (the events stay queued). */
  flush(): Promise<void>;
  /** Stops the timer and flushes; later `record` and `commit` calls throw. */
  close(): Promise<void>;
  /** False while more than `maxBuffered` events wait or the last write failed. */
  healthy(): boolean;
  /** Events queued but not yet committed. */
  pending(): number;
}

export interface AuditWriterOptions {
  appender: AuditAppender;
  /** Longest wait before a recorded event is written. */
  flushIntervalMs: number;
  /** Queue bound past which the writer reports itself unhealthy. Events past it are still kept. */
  maxBuffered: number;
  /** Longest a `commit` waits for its transaction before the call it was for is refused. */
  commitTimeoutMs?: number;
  logger?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  now?: () => number;
  /** Most events per transaction; larger backlogs take several. */
  maxBatch?: number;
}

/** The write-ahead record of a call could not be committed in time; the call must not go ahead. */
export class AuditUnavailableError extends Error {
  readonly code: Extract<InternalErrorCode, 'ERR_AUDIT_UNAVAILABLE'> = 'ERR_AUDIT_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'AuditUnavailableError';
  }
}

interface Waiter {
  id: string;
  deadline: number;
  done: boolean;
  resolve(id: string): void;
  reject(err: Error): void;
}

const MAX_RETRY_DELAY_MS = 5_000;

/**
 * @example
 * const audit = createAuditWriter({ appender: storeAppender(store), flushIntervalMs: 20, maxBuffered: 100_000 });
 * audit.record({ type: 'call.denied', trace_id, decision: 'deny', reason: 'ERR_POLICY_DENIED' });
 * const id = await audit.commit({ type: 'call.allowed', trace_id, task_id, decision: 'allow', reason: 'allowed' });
 */
export function createAuditWriter(opts: AuditWriterOptions): AuditWriter {
  const { appender } = opts;
  if (!(opts.flushIntervalMs > 0)) throw new TypeError('flushIntervalMs must be positive');
  if (!(opts.maxBuffered > 0)) throw new TypeError('maxBuffered must be positive');
  const commitTimeoutMs = opts.commitTimeoutMs ?? 2_000;
  if (!(commitTimeoutMs > 0)) throw new TypeError('commitTimeoutMs must be positive');
  const now = opts.now ?? Date.now;
  const maxBatch = opts.maxBatch ?? 5_000;
  const journals = appender.journal !== undefined;
  let queue: AuditRow[] = [];
  // Events ever queued, and ever chained: `flush` waits until the second reaches what the first was at its call.
  let queued = 0;
  let chained = 0;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let closed = false;
  let failures = 0;
  // Every chain write runs after the previous one (and after the journal's recovery).
  let chain: Promise<void> = Promise.resolve();
  // After a failed write we cannot know whether the COMMIT reached the database (a lost connection or a dead thread
  // after commit); the next attempt then skips the events already stored, by id, instead of failing forever.
  let uncertain = false;
  // Write-ahead records waiting for the journal, and the ids the journal holds (removed when they are chained).
  let toJournal: Array<{ n: number; row: AuditRow }> = [];
  const inJournal = new Set<string>();
  // A journal write is queued on the chain and has not yet taken `toJournal`: later commits join it.
  let journalQueued = false;
  let journalN = 0;
  // Commits waiting, in queue order (so also in deadline order) for the deadline timer; by id for settling.
  let waiters: Waiter[] = [];
  let head = 0;
  const waiting = new Map<string, Waiter>();
  let deadlineTimer: NodeJS.Timeout | undefined;

  if (appender.recover !== undefined) {
    const recover = appender.recover.bind(appender);
    // What a crash left in the journal is chained before anything this writer writes.
    chain = recover().then(
      (n) => {
        if (n > 0) opts.logger?.warn({ recovered: n }, 'audit journal: write-ahead records left by a stop were chained');
      },
      (err: unknown) => {
        failures++;
        opts.logger?.error({ err }, 'audit journal recovery failed; retried with the next write');
        chain = Promise.resolve();
      },
    );
  }

  function schedule(delay: number): void {
    if (closed) return;
    if (delay === 0) {
      // Joins every event queued in this turn of the event loop: one transaction for all of them.
      if (immediate !== undefined) return;
      immediate = setImmediate(() => {
        immediate = undefined;
        run().catch(() => undefined); // reported inside run(); the events stay queued
      });
      return;
    }
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      run().catch(() => undefined);
    }, delay);
    // A queued write does not hold the process open by itself: `close` (or `flush`) is how a caller waits for it.
    timer.unref();
  }

  /** One chain write of what is queued (up to `maxBatch`), after every write before it. */
  function run(): Promise<void> {
    const next = chain.then(drainOnce);
    chain = next.catch(() => undefined);
    return next;
  }

  async function drainOnce(): Promise<void> {
    if (queue.length === 0) return;
    // A copy: events queued while the batch is being written must not join it halfway.
    const batch = queue.slice(0, maxBatch);
    const journaled = journals ? batch.filter((r) => inJournal.has(r.id)).map((r) => r.id) : [];
    try {
      await appender.append(batch, uncertain, journaled);
    } catch (err) {
      failures++;
      uncertain = true;
      const delay = Math.min(opts.flushIntervalMs * 2 ** Math.min(failures, 16), MAX_RETRY_DELAY_MS);
      opts.logger?.error({ err, pending: queue.length, retryInMs: delay }, 'audit write failed; events kept and retried');
      schedule(delay);
      throw err;
    }
    // Only now do the events leave the queue; events queued meanwhile sit behind them.
    queue = queue.slice(batch.length);
    chained += batch.length;
    for (const id of journaled) inJournal.delete(id);
    failures = 0;
    uncertain = false;
    settle(batch.map((r) => r.id));
    // A backlog continues at once; journal writes queued meanwhile go in between (one chain of store writes).
    if (queue.length > 0) schedule(journals && queue.length < maxBatch ? opts.flushIntervalMs : 0);
  }

  /**
   * Group commit for the write-ahead records: with no store write under way the journal write starts at once (no
   * turn of the event loop in between: at one call in flight that turn is latency for nothing); while one is, every
   * record committed meanwhile waits for it and then goes in a single transaction.
   */
  function scheduleJournal(): void {
    if (journalQueued) return;
    journalQueued = true;
    chain = chain.then(writeJournal).catch(() => undefined);
  }

  async function writeJournal(): Promise<void> {
    journalQueued = false;
    const entries = toJournal;
    toJournal = [];
    // Chained already (a chain write came first), or past its deadline (the chain will take it): not journaled.
    const open = entries.filter((e) => waiting.has(e.row.id));
    if (open.length === 0) return;
    try {
      await (appender.journal as NonNullable<AuditAppender['journal']>)(open);
    } catch (err) {
      // The records stay queued for the chain; their calls wait for it, or for their deadline.
      failures++;
      opts.logger?.error({ err, records: open.length }, 'audit journal write failed; the records wait for the chain write');
      schedule(0);
      return;
    }
    for (const e of open) inJournal.add(e.row.id);
    // The store took a write: healthy again (a chain batch that failed before is retried on its schedule).
    failures = 0;
    settle(open.map((e) => e.row.id));
  }

  function settle(ids: readonly string[]): void {
    for (const id of ids) {
      const w = waiting.get(id);
      if (w === undefined) continue;
      waiting.delete(id);
      w.done = true;
      w.resolve(id);
    }
    compact();
  }

  function compact(): void {
    while (head < waiters.length && (waiters[head] as Waiter).done) head++;
    if (head === waiters.length) {
      waiters = [];
      head = 0;
    } else if (head > 1024 && head * 2 > waiters.length) {
      waiters = waiters.slice(head);
      head = 0;
    }
    armDeadline();
  }

  function armDeadline(): void {
    if (deadlineTimer !== undefined) {
      clearTimeout(deadlineTimer);
      deadlineTimer = undefined;
    }
    const first = waiters[head];
    if (first === undefined) return;
    deadlineTimer = setTimeout(expire, Math.max(0, first.deadline - now()));
    deadlineTimer.unref();
  }

  function expire(): void {
    deadlineTimer = undefined;
    const t = now();
    while (head < waiters.length && ((waiters[head] as Waiter).done || (waiters[head] as Waiter).deadline <= t)) {
      const w = waiters[head] as Waiter;
      head++;
      if (w.done) continue;
      w.done = true;
      waiting.delete(w.id);
      w.reject(new AuditUnavailableError(`write-ahead audit record not committed within ${commitTimeoutMs} ms`));
    }
    compact();
  }

  function healthy(): boolean {
    return failures === 0 && queue.length <= opts.maxBuffered;
  }

  function enqueue(input: AuditEventInput): AuditRow {
    if (closed) throw new Error('audit writer is closed: the event would be lost');
    const { event, body } = normalizeAuditEvent(input, now);
    const row = auditRow(event, body);
    queue.push(row);
    queued++;
    return row;
  }

  return {
    record(input) {
      enqueue(input);
      schedule(queue.length >= maxBatch ? 0 : opts.flushIntervalMs);
    },
    commit(input) {
      // Checked before queueing: a call refused here leaves no record that says it was allowed.
      if (!healthy()) throw new AuditUnavailableError(failures > 0 ? 'audit store failing' : 'audit backlog over its bound');
      const row = enqueue(input);
      const committed = new Promise<string>((resolve, reject) => {
        const w: Waiter = { id: row.id, deadline: now() + commitTimeoutMs, done: false, resolve, reject };
        waiters.push(w);
        waiting.set(row.id, w);
        if (deadlineTimer === undefined) armDeadline();
      });
      if (journals) {
        // Durable once journaled; chained with the next batch.
        toJournal.push({ n: ++journalN, row });
        scheduleJournal();
        schedule(queue.length >= maxBatch ? 0 : opts.flushIntervalMs);
      } else schedule(0);
      return committed;
    },
    async flush() {
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      const want = queued;
      // At least once: also waits for every write already under way (the journal's recovery at the start).
      do await run();
      while (chained < want);
    },
    async close() {
      closed = true;
      for (const t of [timer, deadlineTimer]) if (t !== undefined) clearTimeout(t);
      timer = undefined;
      deadlineTimer = undefined;
      if (immediate !== undefined) clearImmediate(immediate);
      immediate = undefined;
      try {
        // Everything queued is chained, the write-ahead records included: the journal is left empty.
        while (queue.length > 0) await run();
      } finally {
        for (let i = head; i < waiters.length; i++) {
          const w = waiters[i] as Waiter;
          if (!w.done) w.reject(new AuditUnavailableError('audit writer closed'));
        }
        waiters = [];
        head = 0;
        waiting.clear();
        await appender.close();
      }
    },
    healthy,
    pending() {
      return queue.length;
    },
  };
}
