/**
 * Workload identity (trusted workload issuers, agents bound to them by subject pattern), the token types each user
 * identity provider may send, and the DPoP proof replay table that lets several nodes share one replay cache.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const ms = 'bigint' as const;
  await db.schema
    .createTable('workload_issuers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull().unique())
    .addColumn('jwks_uri', 'text')
    .addColumn('discovery', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('jwks', 'text')
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('updated_at', ms, (c) => c.notNull())
    .execute();
  // JSON array of { issuer, subject }; '[]' for agents that authenticate by private_key_jwt only.
  await db.schema
    .alterTable('agents')
    .addColumn('workload', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  // JSON array of token-type URIs; null: the three JWT types (as before this migration).
  await db.schema.alterTable('identity_providers').addColumn('token_types', 'text').execute();
  await db.schema
    .createTable('dpop_replay')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dpop_replay_expires_idx').on('dpop_replay').column('expires_at').execute();
}
