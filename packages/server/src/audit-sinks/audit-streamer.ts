/**
 * Streams the stored audit log to the sinks an operator configured (`audit.sinks`): an HTTP endpoint (a SIEM
 * collector; NDJSON, retried with backoff) or a rotating file, each as OCSF 1.3.0 events or as the stored rows.
 *
 * Each sink follows the log by seq from a cursor kept in the database (`audit_sink_cursors`), and moves the cursor
 * only after a batch was delivered: nothing is skipped across failures and restarts, and a batch whose delivery
 * succeeded but whose cursor did not move (a crash between the two) is delivered again — at least once, with each
 * event's `metadata.uid` (the Writ event id) for the receiver to drop what it has.
 */
import type { Kysely } from 'kysely';
import { databaseLog, toOcsf, type AuditEvent } from '../audit/index.js';
import type { Logger } from '../observability/index.js';
import type { Database } from '../storage/index.js';
import { postWithRetry } from './post-with-retry.js';
import { RotatingFile } from './rotating-file.js';

export type AuditSinkConfig =
  | { name: string; kind: 'webhook'; url: string; format: 'ocsf' | 'jsonl'; batchSize: number }
  | { name: string; kind: 'file'; path: string; format: 'ocsf' | 'jsonl'; batchSize: number; maxBytes: number; maxFiles: number };

export interface AuditStreamerDeps {
  db: Kysely<Database>;
  sinks: readonly AuditSinkConfig[];
  fetch: typeof fetch;
  productVersion: string;
  /** How often an idle sink looks for new events. */
  pollMs: number;
  logger: Logger;
  now?: () => number;
}

const MAX_BACKOFF_MS = 60_000;

export class AuditStreamer {
  readonly #deps: AuditStreamerDeps;
  #stopped = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();

  constructor(deps: AuditStreamerDeps) {
    this.#deps = deps;
  }

  start(): void {
    for (const sink of this.#deps.sinks) this.#schedule(sink, 0, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all([...this.#running]);
  }

  /** Delivers everything after the sink's cursor now, batch by batch (tests; an operator's flush). */
  async drain(name: string): Promise<number> {
    const sink = this.#deps.sinks.find((s) => s.name === name);
    if (sink === undefined) throw new Error(`no audit sink ${name}`);
    let total = 0;
    for (;;) {
      const n = await this.#deliverBatch(sink);
      total += n;
      if (n < sink.batchSize) return total;
    }
  }

  #schedule(sink: AuditSinkConfig, delayMs: number, failures: number): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      const run = this.#deliverBatch(sink).then(
        (n) => this.#schedule(sink, n === sink.batchSize ? 0 : this.#deps.pollMs, 0),
        (err: unknown) => {
          const backoff = Math.min(this.#deps.pollMs * 2 ** Math.min(failures + 1, 16), MAX_BACKOFF_MS);
          this.#deps.logger.warn({ err, sink: sink.name, retryInMs: backoff }, 'audit sink delivery failed; retried');
          this.#schedule(sink, backoff, failures + 1);
        },
      );
      this.#running.add(run);
      void run.finally(() => this.#running.delete(run));
    }, delayMs);
    t.unref();
    this.#timers.add(t);
  }

  /** One batch after the cursor: delivered, then the cursor moved. Returns how many events went. */
  async #deliverBatch(sink: AuditSinkConfig): Promise<number> {
    const { db } = this.#deps;
    const cursor = await db.selectFrom('audit_sink_cursors').select('seq').where('name', '=', sink.name).executeTakeFirst();
    const after = cursor?.seq ?? 0;
    const rows = await databaseLog(db).rowsAfter(after, sink.batchSize);
    if (rows.length === 0) return 0;
    const lines = rows.map((r) =>
      JSON.stringify(
        sink.format === 'ocsf'
          ? toOcsf({ seq: r.seq, event: JSON.parse(r.body) as AuditEvent }, { productVersion: this.#deps.productVersion })
          : r,
      ),
    );
    const body = `${lines.join('\n')}\n`;
    if (sink.kind === 'webhook') {
      // One attempt here: the schedule's backoff retries the same batch from the same cursor.
      const r = await postWithRetry(this.#deps.fetch, sink.url, body, {
        contentType: 'application/x-ndjson',
        attempts: 1,
        firstDelayMs: 0,
      });
      if (!r.ok) throw new Error(`audit sink ${sink.name}: ${r.why ?? 'failed'}`);
    } else {
      await new RotatingFile(sink.path, { maxBytes: sink.maxBytes, maxFiles: sink.maxFiles }).append(body);
    }
    const seq = (rows[rows.length - 1] as { seq: number }).seq;
    const now = (this.#deps.now ?? Date.now)();
    await db
      .insertInto('audit_sink_cursors')
      .values({ name: sink.name, seq, updated_at: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({ seq, updated_at: now }))
      .execute();
    return rows.length;
  }
}
