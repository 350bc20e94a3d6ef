/**
 * One pending approval per task and call, whatever the concurrency: holds of the same call at the same moment (two
 * nodes, an agent's retries) share one approval, so approvers are never asked twice and a call approved once cannot
 * go through twice. A pending approval past its time gives its place to the next hold of the call.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { CallToApprove } from '../../src/approvals/index.js';
import { isUniqueViolation, type ApprovalRow } from '../../src/storage/index.js';
import { MIGRATIONS } from '../../src/storage/migrations/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { manualWriter } from '../audit/audit-fixtures.js';
import { approvalsOn, heldFor } from './approval-fixtures.js';

const CALL: CallToApprove = {
  taskId: 'task_races',
  agentId: 'agent-a',
  userId: 'dev:alice',
  resourceId: 'api',
  taskChain: ['task_races'],
  actorChain: ['dev:alice', 'agent-a'],
  purpose: 'race',
  action: 'POST',
  target: '/v1/payments',
  arguments: { body_sha256: 'ab'.repeat(32), body_bytes: 10 },
};
const RULE = { approvers: [{ kind: 'user' as const }], policies: ['payments'] };

describeEachStore('approval races', (kind) => {
  test('ten holds of one call at once: one pending approval, every hold told its id', async () => {
    const store = await kind.open();
    const audit = manualWriter(store);
    let now = 1_800_000_000_000;
    const approvals = approvalsOn(store, audit, { now: () => now });
    try {
      const ids = await Promise.all(Array.from({ length: 10 }, () => heldFor(approvals.gate(CALL, RULE))));
      assert.equal(new Set(ids).size, 1, `one approval for one call, got ${new Set(ids).size}`);
      const pending = await approvals.list({ status: 'pending', limit: 100 });
      assert.deepEqual(
        pending.map((a) => a.id),
        [ids[0]],
      );

      // Past its time, the next hold gets a new approval; the old one reads as expired, and cannot be decided.
      now += 61_000;
      const next = await heldFor(approvals.gate(CALL, RULE));
      assert.notEqual(next, ids[0]);
      assert.deepEqual(
        (await approvals.list({ status: 'pending', limit: 100 })).map((a) => a.id),
        [next],
      );
      assert.equal((await approvals.get(ids[0] as string))?.status, 'expired');
      await assert.rejects(
        approvals.decide(ids[0] as string, { approve: true, who: { kind: 'person', userId: 'dev:alice', groups: [] }, reason: 'late' }),
        (e: unknown) => (e as { code?: string }).code === 'not_pending',
      );
    } finally {
      await audit.close();
      await store.dispose();
    }
  });

  test('migration 0023: of pending duplicates stored before it, the newest stays pending; then no second one fits', async () => {
    const store = await kind.open();
    try {
      await sql`drop index approvals_one_pending`.execute(store.db);
      const row = (id: string, taskId: string, createdAt: number): ApprovalRow => ({
        id,
        task_id: taskId,
        agent_id: 'agent-a',
        user_id: 'dev:alice',
        resource_id: 'api',
        call_digest: 'd1',
        call: '{}',
        approvers: '["user"]',
        policies: '[]',
        status: 'pending',
        created_at: createdAt,
        expires_at: createdAt + 60_000,
        decided_at: null,
        decided_by: null,
        reason: null,
        used_at: null,
        arguments_envelope: null,
      });
      await store.db
        .insertInto('approvals')
        .values([row('apr_old', 't1', 1), row('apr_mid', 't1', 2), row('apr_new', 't1', 3), row('apr_other', 't2', 1)])
        .execute();
      await MIGRATIONS['0023-one-pending-approval']?.up(store.db as unknown as Kysely<unknown>, store.dialect);
      const status = Object.fromEntries(
        (await store.db.selectFrom('approvals').select(['id', 'status']).execute()).map((r) => [r.id, r.status]),
      );
      assert.deepEqual(status, { apr_old: 'expired', apr_mid: 'expired', apr_new: 'pending', apr_other: 'pending' });
      await assert.rejects(
        store.db
          .insertInto('approvals')
          .values(row('apr_dup', 't1', 4))
          .execute(),
        (e: unknown) => isUniqueViolation(e),
      );
    } finally {
      await store.dispose();
    }
  });
});
