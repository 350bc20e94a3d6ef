/**
 * Signed audit checkpoints, and the table of keys that sign something other than tokens, which until now held only the
 * Shared Signals SET key (`ssf_keys`), renamed for what it holds: one key per purpose.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('ssf_keys').renameTo('dedicated_keys').execute();
  // One checkpoint per chain head: asking again at the same head returns the stored one.
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('jws', 'text', (c) => c.notNull())
    .execute();
}
