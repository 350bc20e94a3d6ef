/**
 * The audit append through Kysely: PostgreSQL (on a connection of its own), and SQLite where no raw handle is at hand.
 *
 * Several writers may share one PostgreSQL (cluster mode): each batch takes a transaction-scoped advisory lock before
 * reading the head, so two nodes never both append after the same event; a crashed node cannot leave it held. On
 * SQLite, BEGIN IMMEDIATE takes the write lock before the head is read.
 */
import { sql, type Kysely } from 'kysely';
import type { AuditEventsTable, Database, Dialect } from '../storage/index.js';
import type { AuditAppender } from './audit-appender.js';
import { chainHash, GENESIS_HASH } from './audit-chain.js';
import type { AuditRow } from './audit-row.js';

/** Advisory lock key shared by every Writ node on one database: ASCII "WritAudt" as a signed 64-bit integer. */
const PG_AUDIT_LOCK_KEY = '6301345542052750452';
const ROWS_PER_INSERT = 500;

export function kyselyAppender(
  db: Kysely<Database>,
  dialect: Dialect,
  opts: { runs: AuditAppender['runs']; close?: () => Promise<void> },
): AuditAppender {
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new TypeError(`unknown dialect ${String(dialect)}`);
  return {
    runs: opts.runs,
    close: opts.close ?? (() => Promise.resolve()),
    async append(batch, uncertain) {
      await db.connection().execute(async (conn) => {
        await sql.raw(dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN').execute(conn);
        try {
          if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${sql.raw(PG_AUDIT_LOCK_KEY)})`.execute(conn);
          const todo = uncertain ? await unstored(conn, batch) : batch;
          const head = await conn.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
          let seq = head?.seq ?? 0;
          let prev = head?.hash ?? GENESIS_HASH;
          const rows: AuditEventsTable[] = todo.map((r) => {
            seq += 1;
            const hash = chainHash(prev, r.body);
            const row: AuditEventsTable = { seq, ...r, prev_hash: prev, hash };
            prev = hash;
            return row;
          });
          for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
            await conn
              .insertInto('audit_events')
              .values(rows.slice(i, i + ROWS_PER_INSERT))
              .execute();
          }
          await sql.raw('COMMIT').execute(conn);
        } catch (err) {
          await sql
            .raw('ROLLBACK')
            .execute(conn)
            .catch(() => undefined);
          throw err;
        }
      });
    },
  };
}

async function unstored(conn: Kysely<Database>, batch: readonly AuditRow[]): Promise<readonly AuditRow[]> {
  const stored = new Set<string>();
  for (let i = 0; i < batch.length; i += ROWS_PER_INSERT) {
    const ids = batch.slice(i, i + ROWS_PER_INSERT).map((b) => b.id);
    for (const r of await conn.selectFrom('audit_events').select('id').where('id', 'in', ids).execute()) stored.add(r.id);
  }
  return stored.size > 0 ? batch.filter((b) => !stored.has(b.id)) : batch;
}
