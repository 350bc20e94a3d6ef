/**
 * Which event loop wrote a journal entry. With `writ serve --workers N` several processes journal into one SQLite
 * file; a worker started again after a crash chains only what its own slot left, never an entry a live sibling is
 * about to chain itself. Single-process entries have the empty owner.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('audit_journal')
    .addColumn('owner', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
}
