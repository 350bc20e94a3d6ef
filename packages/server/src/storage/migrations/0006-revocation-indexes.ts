/**
 * Indexes for the cluster's reads of the revocation log, so their cost does not grow with its length: a catch-up
 * reads "after this sequence, or created in the commit window" (the primary key and `created_at`, combined), and a
 * repeated revocation of the same target is found by (`target_type`, `target_id`).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('revocations_created_idx').on('revocations').column('created_at').execute();
  await db.schema.createIndex('revocations_target_idx').on('revocations').columns(['target_type', 'target_id']).execute();
}
