/**
 * Secret kinds (issue: minted and per-user upstream credentials). `kind` says what the sealed value is and how the
 * vault turns it into what a call injects: `static` (the value itself, every secret until now), or a minted kind
 * whose non-secret settings (token endpoint, client id, scope …) are in `config` as JSON; the sealed value holds only
 * what must stay secret (a client secret, a private key).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('secrets')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('static'))
    .execute();
  await db.schema.alterTable('secrets').addColumn('config', 'text').execute();
}
