/**
 * At most one active token-signing key, enforced by the store: two control nodes starting at once on an empty
 * database (or two rotations at once) cannot both make theirs the active one — the second insert fails and that node
 * loads the first's key. A database that already holds several active keys keeps the newest active, the others
 * retired but still published for the longest token lifetime (one day), so no token they signed stops verifying.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const keys = db as Kysely<{ signing_keys: { kid: string; status: string; created_at: number; retire_at: number | null } }>;
  const active = await keys
    .selectFrom('signing_keys')
    .select(['kid'])
    .where('status', '=', 'active')
    .orderBy('created_at', 'desc')
    .execute();
  const older = active.slice(1).map((k) => k.kid);
  if (older.length > 0)
    await keys
      .updateTable('signing_keys')
      .set({ status: 'retired', retire_at: Date.now() + 86_400_000 })
      .where('kid', 'in', older)
      .execute();
  await db.schema
    .createIndex('signing_keys_one_active')
    .on('signing_keys')
    .column('status')
    .unique()
    .where(sql.ref('status'), '=', 'active')
    .execute();
}
