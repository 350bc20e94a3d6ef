/**
 * Observe mode (issue: governance): a grant is `enforce`d (every grant until now) or deployed to `observe`, where it
 * is evaluated on live traffic beside the enforced set and never changes an answer.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('grants')
    .addColumn('mode', 'text', (c) => c.notNull().defaultTo('enforce'))
    .execute();
}
