/**
 * One action, any target, idempotent: revoking what is already revoked writes no second entry (no second NOTIFY, no
 * second SET) and answers with the revocation in force; revoking an agent again later is a new revocation, because
 * it also kills the tokens issued since.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

describeEachStore('revocation idempotency', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
  });

  const revoke = (target: Record<string, string>, reason = 'test'): Promise<{ seq: number; reason: string }> =>
    h.admin.post('/revocations', { target, reason });
  const count = async (): Promise<number> => (await h.admin.get<unknown[]>('/revocations?limit=1000')).length;

  test('the same token or task twice: one entry, the same answer', async () => {
    const n = await count();
    const a = await revoke({ type: 'token', jti: 'tok_idem' }, 'first');
    const b = await revoke({ type: 'token', jti: 'tok_idem' }, 'second');
    assert.equal(b.seq, a.seq);
    assert.equal(b.reason, 'first', 'the revocation in force, not a new one');
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] });
    const t1 = await revoke({ type: 'task', taskId: task.id });
    const t2 = await revoke({ type: 'task', taskId: task.id });
    assert.equal(t2.seq, t1.seq);
    assert.ok(t1.seq > a.seq, 'the task revocation answers with its own entry');
    assert.equal(await count(), n + 2);
    await h.writ.flushAudit();
    const events = await h.admin.get<Array<{ data: Record<string, unknown> }>>('/audit?type=revocation.created&limit=100');
    assert.ok(
      events.some((e) => e.data['repeated'] === true && e.data['seq'] === a.seq),
      'the repeat is audited',
    );
  });

  test('the same agent again later is a new revocation (it also hits tokens issued since)', async () => {
    const a = await revoke({ type: 'agent', agentId: 'agent-a' });
    h.clock.advance(2);
    const b = await revoke({ type: 'agent', agentId: 'agent-a' });
    assert.ok(b.seq > a.seq);
  });
});
