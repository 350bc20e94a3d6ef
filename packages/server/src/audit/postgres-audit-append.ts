/**
 * The audit append on PostgreSQL, on a connection of its own, in as few round trips as the chain allows. At one call in
 * flight each round trip costs a wake-up on both sides (~0.2–0.4 ms on a small VM), and the write-ahead record waits for
 * all of them, so their number is most of what the audit adds to a call.
 *
 * - **Known head: one statement.** After its own batch the appender knows the head it wrote. The next batch is a single
 *   autocommit `INSERT … SELECT FROM unnest(…)` chained onto that head, guarded by `max(seq) = head`, taking the
 *   shared advisory lock as it runs. If another writer has appended since, the guard inserts nothing (or, in a race
 *   the statement's snapshot cannot see, the `seq` primary key refuses the row) and the batch takes the locked path.
 *   The key is what makes a fork impossible; the guard only keeps the usual miss from being an error; the lock keeps
 *   this statement from ever failing a writer on the locked path.
 * - **Unknown head: three round trips.** `BEGIN; SELECT pg_advisory_xact_lock(…); SELECT head` goes as one message
 *   (simple protocol, no parameters). In READ COMMITTED each statement of a message takes its own snapshot when it
 *   starts, so the head read, which starts only once the lock is held, sees every append committed before it. Then the
 *   insert, then COMMIT.
 *
 * Several writers (nodes, worker processes) share one chain this way. A writer that keeps missing (others write
 * between its batches) tries the one-statement path less and less often, so contention costs the locked path plus,
 * now and then, one wasted statement.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { AuditEventsTable } from '../storage/index.js';
import type { AuditAppender } from './audit-appender.js';
import { chainHash, GENESIS_HASH } from './audit-chain.js';
import { AUDIT_EVENT_COLUMNS, type AuditRow } from './audit-row.js';

/**
 * The advisory lock key of the chain in `schema`, shared by every Writ node on that schema. Advisory locks are per
 * database, so a key of its own per schema keeps deployments (and test runs) in other schemas of the same database
 * from waiting on each other's appends.
 */
export function auditLockKey(schema: string): string {
  return createHash('sha256').update(`writ-audit-chain:${schema}`).digest().readBigInt64BE(0).toString();
}

const lockAndHead = (key: string): string =>
  `BEGIN; SELECT pg_advisory_xact_lock(${key}); SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`;

const COLUMNS = AUDIT_EVENT_COLUMNS;
const TYPES = COLUMNS.map((c) => (c === 'seq' || c === 'time' ? 'bigint' : 'text'));

/**
 * One statement whatever the batch's size (one array per column), so it is parsed and planned once per connection. `$14`
 * is the head the batch is chained onto: nothing is inserted unless it still is. The guard is `max(seq)`, which every
 * plan answers from the end of the primary key's index: PostgreSQL soon plans a prepared statement without its
 * parameters' values, and `NOT EXISTS (… seq > $14)` then guessed a third of the table matches and read all of it.
 */
export const insertAfter = (key: string): string => `WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(${key}))
INSERT INTO audit_events (${COLUMNS.join(', ')})
SELECT r.* FROM lock, unnest(${TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) AS r(${COLUMNS.join(', ')})
WHERE (SELECT coalesce(max(seq), 0) FROM audit_events) = $${COLUMNS.length + 1}`;

const STORED_IDS = 'SELECT id FROM audit_events WHERE id = ANY($1::text[])';

/** PostgreSQL's unique_violation: a row at a seq another writer took first. */
const UNIQUE_VIOLATION = '23505';
const MAX_SKIP = 64;

export interface PostgresAppenderOptions {
  connection: { readonly connectionString: string; readonly options?: string };
  /** The schema the connection's `search_path` names: the chain's lock is the schema's own (auditLockKey). */
  schema: string;
  /** Fails a connection attempt that takes longer (the writer retries with backoff). */
  connectTimeoutMs?: number;
  /** How the connection names itself in `pg_stat_activity`. */
  applicationName?: string;
}

interface Head {
  seq: number;
  hash: string;
}

export function postgresAppender(opts: PostgresAppenderOptions): AuditAppender {
  const key = auditLockKey(opts.schema);
  const lockAndHeadText = lockAndHead(key);
  const insertAfterText = insertAfter(key);
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  // The head this appender last wrote or read under the lock; undefined when unknown (start, failure).
  let head: Head | undefined;
  // Batches to write on the locked path before trying the one-statement path again, and the next such pause.
  let skip = 0;
  let backoff = 0;
  let closed = false;

  function connect(): Promise<pg.Client> {
    if (client !== undefined) return Promise.resolve(client);
    connecting ??= (async () => {
      const c = new pg.Client({
        connectionString: opts.connection.connectionString,
        ...(opts.connection.options !== undefined ? { options: opts.connection.options } : {}),
        application_name: opts.applicationName ?? 'writ-audit',
        keepAlive: true,
        connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      });
      // A dropped connection fails the query in flight; the next batch opens another (discard below).
      c.on('error', () => discard(c));
      c.on('end', () => discard(c));
      try {
        await c.connect();
      } catch (err) {
        discard(c);
        throw err;
      }
      client = c;
      return c;
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  function discard(c: pg.Client): void {
    if (client === c) client = undefined;
    head = undefined;
    c.end().catch(() => undefined);
  }

  async function afterHead(c: pg.Client, rows: readonly AuditRow[], after: Head): Promise<Head | 'moved'> {
    const chained = chain(rows, after);
    const r = await c.query({ name: 'writ_audit_append', text: insertAfterText, values: [...chained.columns, after.seq] });
    return r.rowCount === rows.length ? chained.head : 'moved';
  }

  async function locked(c: pg.Client, batch: readonly AuditRow[], uncertain: boolean): Promise<Head> {
    try {
      // A message of several statements answers with one result each.
      const results = (await c.query(lockAndHeadText)) as unknown as pg.QueryResult[];
      const row = results[2]?.rows[0] as { seq: string | number; hash: string } | undefined;
      const current: Head = row !== undefined ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
      const todo = uncertain ? await unstored(c, batch) : batch;
      let next = current;
      if (todo.length > 0) {
        const written = await afterHead(c, todo, current);
        // Under the lock, with the head just read, nothing else can have appended: the guard cannot miss.
        if (written === 'moved') throw new Error('audit chain head moved while the append lock was held');
        next = written;
      }
      await c.query('COMMIT');
      return next;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  return {
    runs: 'dedicated-connection',
    async append(batch, uncertain) {
      if (closed) throw new Error('audit appender closed');
      if (batch.length === 0) return;
      const c = await connect();
      try {
        if (!uncertain && head !== undefined && skip === 0) {
          const known = head;
          head = undefined;
          const written = await afterHead(c, batch, known).catch((err: unknown) => {
            if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) return 'moved' as const;
            throw err;
          });
          if (written !== 'moved') {
            head = written;
            backoff = 0;
            return;
          }
          backoff = Math.min(MAX_SKIP, Math.max(1, backoff * 2));
          skip = backoff;
        } else if (skip > 0) {
          skip--;
        }
        head = await locked(c, batch, uncertain);
      } catch (err) {
        // Whether the last statement committed is unknown to us (the writer retries with `uncertain`); so is the head.
        head = undefined;
        if (client === c && (err as { code?: unknown }).code === undefined) discard(c);
        throw err;
      }
    },
    async close() {
      closed = true;
      const c = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}

function chain(rows: readonly AuditRow[], after: Head): { columns: unknown[][]; head: Head } {
  const columns: unknown[][] = COLUMNS.map(() => new Array<unknown>(rows.length));
  let seq = after.seq;
  let prev = after.hash;
  rows.forEach((r, i) => {
    seq += 1;
    const hash = chainHash(prev, r.body);
    const row: AuditEventsTable = { seq, ...r, prev_hash: prev, hash };
    COLUMNS.forEach((c, col) => ((columns[col] as unknown[])[i] = row[c]));
    prev = hash;
  });
  return { columns, head: { seq, hash: prev } };
}

async function unstored(c: pg.Client, batch: readonly AuditRow[]): Promise<readonly AuditRow[]> {
  const r = await c.query<{ id: string }>({ name: 'writ_audit_stored', text: STORED_IDS, values: [batch.map((b) => b.id)] });
  if (r.rows.length === 0) return batch;
  const stored = new Set(r.rows.map((x) => x.id));
  return batch.filter((b) => !stored.has(b.id));
}
