/**
 * At most one pending approval per task and call (`approvals_one_pending`): two nodes, or two retries on one node,
 * that hold the same call back at the same moment share one approval instead of asking approvers twice — two
 * pending approvals of one call could be approved one after the other, and let the call through twice.
 * Duplicates already stored keep their newest; the others are marked expired.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    update approvals set status = 'expired'
    where status = 'pending' and exists (
      select 1 from approvals newer
      where newer.task_id = approvals.task_id and newer.call_digest = approvals.call_digest and newer.status = 'pending'
        and (newer.created_at > approvals.created_at or (newer.created_at = approvals.created_at and newer.id > approvals.id))
    )`.execute(db);
  await db.schema
    .createIndex('approvals_one_pending')
    .on('approvals')
    .columns(['task_id', 'call_digest'])
    .unique()
    .where(sql.ref('status'), '=', 'pending')
    .execute();
}
