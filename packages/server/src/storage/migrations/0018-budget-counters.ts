/**
 * Budgets and rate limits (issue: governance): one counter per key and window — a task's calls in all, per action
 * or per minute, an agent's or a user's calls per minute — shared by every node through the store, and the cap each
 * was taken against. `window_start` is 0 for counts that have no window.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ms = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('budget_counters')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('window_start', ms, (c) => c.notNull())
    .addColumn('used', ms, (c) => c.notNull())
    .addColumn('cap', ms, (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .addPrimaryKeyConstraint('budget_counters_pk', ['key', 'window_start'])
    .execute();
  await db.schema.createIndex('budget_counters_expiry_idx').on('budget_counters').column('expires_at').execute();
}
