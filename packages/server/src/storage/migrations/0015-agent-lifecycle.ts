/**
 * The register's lifecycle (issue: governance): when an agent's registration ends (`expires_at`), when it is due for
 * review (`review_by`), when it last acted (`last_used_at`, written in batches), and when its owner was offboarded
 * (`owner_offboarded_at`: the owner's user revocation flagged or suspended it), and when the end of its registration was
 * last enforced by revoking what it held (`expiry_enforced_at`). All epoch milliseconds, null when unset.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ms = dialect === 'postgres' ? 'bigint' : 'integer';
  for (const column of ['expires_at', 'review_by', 'last_used_at', 'owner_offboarded_at', 'expiry_enforced_at'])
    await db.schema.alterTable('agents').addColumn(column, ms).execute();
  await db.schema.createIndex('agents_owner_idx').on('agents').column('owner').execute();
}
