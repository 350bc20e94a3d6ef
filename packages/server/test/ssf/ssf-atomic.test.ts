/**
 * A revocation and its SETs commit together or not at all, on every store: SETs are stored in the revocation's own
 * transaction, so a revocation that fails to commit leaves no SET behind, and one that commits has its SETs stored
 * by the time the revoke call answers.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type Harness } from '../helpers/writ-harness.js';
import { createReceiver, outboxRows, ssfCall } from './ssf-helpers.js';

describeEachStore('ssf outbox is atomic with the revocation', (kind) => {
  const h = useHarness(kind);
  let failNext = false;
  before(async () => {
    // Runs after the SSF hook, inside the same transaction: failing here rolls back the SETs already stored.
    h.writ.revocations.addWriteHook(async () => {
      if (failNext) throw new Error('injected failure before commit');
    });
  });

  test('a committed revocation has its SET stored when the call answers; a rolled-back one has neither', async () => {
    const r = await createReceiver(h);
    const stream = (await ssfCall(h, r.token, 'POST', '/ssf/v1/streams', {})).json<{ stream_id: string }>();
    const before = (await h.admin.get<unknown[]>('/revocations?limit=1000')).length;

    failNext = true;
    await assert.rejects(h.admin.post('/revocations', { target: { type: 'token', jti: 'tok_atomic_fail' }, reason: 'x' }));
    failNext = false;
    assert.equal((await outboxRows(h, stream.stream_id)).length, 0, 'no SET for a revocation that did not commit');
    assert.equal((await h.admin.get<unknown[]>('/revocations?limit=1000')).length, before, 'and no revocation');
    assert.equal(h.writ.revocations.set.check({ ...claimsFor('tok_atomic_fail') }, ''), null, 'not in force either');

    await h.admin.post('/revocations', { target: { type: 'token', jti: 'tok_atomic_ok' }, reason: 'y' });
    const rows = await outboxRows(h, stream.stream_id);
    assert.equal(rows.length, 1, 'stored before the call answered: no waiting');
    assert.equal(rows[0]?.state, 'pending');
  });
});

function claimsFor(jti: string): Parameters<Harness['writ']['revocations']['set']['check']>[0] {
  return {
    iss: 'x',
    sub: 'dev:nobody',
    aud: 'x',
    client_id: 'nobody',
    act: { sub: 'nobody' },
    authorization_details: [],
    jti,
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 60,
    task_id: 'task_none',
    task_chain: [],
  };
}
