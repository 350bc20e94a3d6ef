/**
 * The write-ahead journal of the SQLite audit writer: a forwarded call's record is committed here first (one page per
 * commit: no secondary index), then chained into `audit_events` with the next batch, which deletes it from here in the
 * same transaction. What a crash leaves here is chained at the next start.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_journal')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addColumn('row', 'text', (c) => c.notNull())
    .execute();
}
