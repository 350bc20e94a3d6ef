/**
 * Call-bound approvals (issue: governance). One row per call a grant's `@approval` held back: the task and who it
 * acts for, the call as the approver sees it, the digest that binds the approval to exactly that call, who may
 * approve, and the decision. An approval is good once (`used_at`) and only until `expires_at`.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ms = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('approvals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('call_digest', 'text', (c) => c.notNull())
    .addColumn('call', 'text', (c) => c.notNull())
    .addColumn('approvers', 'text', (c) => c.notNull())
    .addColumn('policies', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .addColumn('decided_at', ms)
    .addColumn('decided_by', 'text')
    .addColumn('reason', 'text')
    .addColumn('used_at', ms)
    .execute();
  await db.schema.createIndex('approvals_call_idx').on('approvals').columns(['task_id', 'call_digest']).execute();
  await db.schema.createIndex('approvals_status_idx').on('approvals').columns(['status', 'created_at']).execute();
}
