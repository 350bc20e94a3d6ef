/**
 * Approvals at rest, on every store: a held call's arguments are sealed with the KEK for that approval alone and its
 * digest is keyed, so neither the rows nor a copy of the database tell what the call carried or confirm a guess at
 * it; approvers still see the exact call. Rows stored in clear before (migration 0024) are sealed at start and still
 * let their approved call through. A KEK rotation keeps pending approvals found and readable, and re-wraps them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { APPROVAL_ENVELOPES, type Approvals, type ApprovalView, type CallToApprove } from '../../src/approvals/index.js';
import { canonicalJson, queryAudit, type AuditWriter } from '../../src/audit/index.js';
import { envelopeKekId, KeyEncryptionKey, KeyRing } from '../../src/crypto/index.js';
import type { ApprovalRow } from '../../src/storage/index.js';
import { rotateKek } from '../../src/vault/index.js';
import { describeEachStore, type TestStore } from '../helpers/stores.js';
import { manualWriter } from '../audit/audit-fixtures.js';
import { approvalsOn, heldFor } from './approval-fixtures.js';

const ARGUMENTS = { amount: 100, to: 'acct-7', memo: 'salary for dana' };
const CALL: CallToApprove = {
  taskId: 'task_rest',
  agentId: 'agent-a',
  userId: 'dev:alice',
  resourceId: 'pay',
  taskChain: ['task_rest'],
  actorChain: ['dev:alice', 'agent-a'],
  purpose: 'pay the salaries',
  action: 'tools/call',
  target: 'transfer',
  arguments: ARGUMENTS,
};
const RULE = { approvers: [{ kind: 'user' as const }], policies: ['payments'] };
const ALICE = { kind: 'person' as const, userId: 'dev:alice', groups: [] };
const T0 = 1_800_000_000_000;

/** The digest the rows held before migration 0024: SHA-256 of the canonical call, no key. */
const plainDigest = (call: CallToApprove): string =>
  createHash('sha256')
    .update(
      canonicalJson({ task: call.taskId, resource: call.resourceId, action: call.action, target: call.target, arguments: call.arguments }),
    )
    .digest('hex');

describeEachStore('approvals at rest', (kind) => {
  async function withApprovals(
    run: (store: TestStore, make: (keys: KeyRing, notify?: (a: ApprovalView) => void) => Approvals, audit: AuditWriter) => Promise<void>,
  ): Promise<void> {
    const store = await kind.open();
    const audit = manualWriter(store);
    const make = (keys: KeyRing, notify?: (a: ApprovalView) => void): Approvals =>
      approvalsOn(store, audit, { now: () => T0, keys, ...(notify !== undefined ? { notify } : {}) });
    try {
      await run(store, make, audit);
    } finally {
      await audit.close();
      await store.dispose();
    }
  }
  const rowOf = (store: TestStore, id: string): Promise<ApprovalRow> =>
    store.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  test('the stored row holds neither the arguments nor a digest anyone without the KEK can check; approvers see them', async () => {
    await withApprovals(async (store, make) => {
      const told: ApprovalView[] = [];
      const approvals = make(new KeyRing(KeyEncryptionKey.generate()), (a) => told.push(a));
      const id = await heldFor(approvals.gate(CALL, RULE));
      // The approvers' webhook is told of the call as it is, arguments included.
      assert.deepEqual(
        told.map((a) => [a.id, a.call]),
        [[id, CALL]],
      );
      const row = await rowOf(store, id);
      const stored = JSON.stringify(row);
      for (const s of ['acct-7', 'salary', '"amount"']) assert.ok(!stored.includes(s), `${s} stored in clear: ${stored}`);
      assert.notEqual(row.call_digest, plainDigest(CALL));
      assert.equal((JSON.parse(row.call) as CallToApprove).target, 'transfer', 'what the audit names stays readable');

      assert.deepEqual((await approvals.get(id))?.call.arguments, ARGUMENTS);
      assert.deepEqual((await approvals.list({ status: 'pending', limit: 10 }))[0]?.call, CALL);
      await approvals.decide(id, { approve: true, who: ALICE, reason: 'ok' });
      assert.equal(await approvals.gate(CALL, RULE), id, 'the approved call goes through');
      // Other arguments are another call.
      assert.notEqual(await heldFor(approvals.gate({ ...CALL, arguments: { ...ARGUMENTS, amount: 101 } }, RULE)), id);
    });
  });

  test('an envelope that does not open (moved to another row, or its KEK removed): shown without arguments, denied but never approved', async () => {
    await withApprovals(async (store, make, audit) => {
      const kek = KeyEncryptionKey.generate('kek-1');
      const approvals = make(new KeyRing(kek));
      const a = await heldFor(approvals.gate(CALL, RULE));
      const b = await heldFor(approvals.gate({ ...CALL, arguments: { amount: 1, to: 'acct-1' } }, RULE));
      const envelope = (await rowOf(store, a)).arguments_envelope;
      await store.db.updateTable('approvals').set({ arguments_envelope: envelope }).where('id', '=', b).execute();

      const shown = await approvals.get(b);
      assert.equal(shown?.argumentsUnreadable, true);
      assert.equal(shown?.call.arguments, null, 'nothing of the other row shows through');
      assert.equal(shown?.call.target, 'transfer');
      // One such row does not hide the others.
      const listed = await approvals.list({ status: 'pending', limit: 10 });
      assert.deepEqual(
        listed.map((x) => [x.id, x.argumentsUnreadable ?? false]).sort(),
        [
          [a, false],
          [b, true],
        ].sort(),
      );
      await assert.rejects(approvals.decide(b, { approve: true, who: ALICE, reason: 'blind' }), {
        name: 'ApprovalError',
        code: 'unreadable',
      });
      assert.equal((await rowOf(store, b)).status, 'pending');
      await audit.flush();
      const refused = await queryAudit(store.db, { type: 'approval.refused' });
      assert.deepEqual(
        refused.map((e) => [e.reason, (e.data as { approval?: string } | undefined)?.approval]),
        [['arguments_unreadable', b]],
      );
      assert.equal((await approvals.decide(b, { approve: false, who: ALICE, reason: 'cannot see it' })).status, 'denied');

      // The KEK removed before its envelopes were re-wrapped: every approval is still listed, none can be approved.
      const without = make(new KeyRing(KeyEncryptionKey.generate('kek-2')));
      const all = await without.list({ limit: 10 });
      assert.deepEqual(all.map((x) => x.argumentsUnreadable).sort(), [true, true]);
      await assert.rejects(without.decide(a, { approve: true, who: ALICE, reason: 'blind' }), { code: 'unreadable' });
      assert.equal((await approvals.get(a))?.call.arguments !== null, true, 'with its KEK back, it reads again');
    });
  });

  test('a row stored in clear before migration 0024 is sealed at start, and its approved call still goes through', async () => {
    await withApprovals(async (store, make) => {
      const legacy: ApprovalRow = {
        id: 'apr_legacylegacylegacylegacy',
        task_id: CALL.taskId,
        agent_id: CALL.agentId,
        user_id: CALL.userId,
        resource_id: CALL.resourceId,
        call_digest: plainDigest(CALL),
        call: JSON.stringify(CALL),
        arguments_envelope: null,
        approvers: '["user"]',
        policies: '["payments"]',
        status: 'approved',
        created_at: T0 - 1000,
        expires_at: T0 + 30_000,
        decided_at: T0 - 500,
        decided_by: 'user:dev:alice',
        reason: 'ok',
        used_at: null,
      };
      await store.db.insertInto('approvals').values(legacy).execute();
      const approvals = make(new KeyRing(KeyEncryptionKey.generate()));
      assert.equal(await approvals.sealStored(), 1);
      assert.equal(await approvals.sealStored(), 0, 'sealed once');
      const row = await rowOf(store, legacy.id);
      assert.ok(row.arguments_envelope !== null && !JSON.stringify(row).includes('acct-7'));
      assert.notEqual(row.call_digest, legacy.call_digest);
      assert.deepEqual((await approvals.get(legacy.id))?.call, CALL);
      assert.equal(await approvals.gate(CALL, RULE), legacy.id);
    });
  });

  test('after a KEK rotation a pending approval is still found and read; the rotation re-wraps its envelope', async () => {
    await withApprovals(async (store, make) => {
      const old = KeyEncryptionKey.generate('kek-1');
      const id = await heldFor(make(new KeyRing(old)).gate(CALL, RULE));
      const ring = new KeyRing(KeyEncryptionKey.generate('kek-2'), [old]);
      const approvals = make(ring);
      assert.equal(await heldFor(approvals.gate(CALL, RULE)), id, 'the same call waits for the same approval');
      assert.equal((await rotateKek(store.db, ring, [APPROVAL_ENVELOPES])).rewrapped, 1);
      assert.equal(envelopeKekId((await rowOf(store, id)).arguments_envelope ?? ''), 'kek-2');
      assert.deepEqual((await make(new KeyRing(ring.current)).get(id))?.call.arguments, ARGUMENTS);
      await approvals.decide(id, { approve: true, who: ALICE, reason: 'ok' });
      assert.equal(await approvals.gate(CALL, RULE), id);
    });
  });
});
