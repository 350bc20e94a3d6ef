/** Cluster channel names and payloads: scoped to the schema, and every malformed payload dropped, never guessed at. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { channelsFor } from '../../src/cluster/index.js';
import { decodeChange, decodeRevocation, encodeChange, encodeRevocation } from '../../src/cluster/channels.js';

test('channel names carry the schema, stay within the 63-byte identifier limit, and differ per schema', () => {
  const a = channelsFor('public');
  const b = channelsFor('writ_test_1');
  assert.notEqual(a.revocation, b.revocation);
  assert.notEqual(a.revocation, a.change);
  const long = channelsFor('s'.repeat(63));
  assert.ok(long.revocation.length <= 63 && long.change.length <= 63);
  assert.notEqual(long.revocation, channelsFor(`${'s'.repeat(62)}t`).revocation);
});

test('a revocation notice round-trips; reason and operator are not sent', () => {
  const row = {
    seq: 7,
    target_type: 'agent' as const,
    target_id: 'agent-a',
    before: 1_800_000_000,
    expires_at: 1_800_003_600,
    reason: 'a secret reason',
    actor: 'admin:alice',
    created_at: 1_800_000_000_123,
  };
  const payload = encodeRevocation(row);
  assert.doesNotMatch(payload, /secret reason|alice/);
  assert.deepEqual(decodeRevocation(payload), {
    seq: 7,
    target_type: 'agent',
    target_id: 'agent-a',
    before: 1_800_000_000,
    expires_at: 1_800_003_600,
    created_at: 1_800_000_000_123,
  });
});

test('malformed notices are dropped', () => {
  const good = { seq: 1, target_type: 'token', target_id: 'tok_1', before: null, expires_at: 1, created_at: 1 };
  for (const bad of [
    'not json',
    'null',
    '[]',
    JSON.stringify({ ...good, seq: 0 }),
    JSON.stringify({ ...good, seq: '1' }),
    JSON.stringify({ ...good, target_type: 'everything' }),
    JSON.stringify({ ...good, target_id: '' }),
    JSON.stringify({ ...good, target_id: 'x'.repeat(1025) }),
    JSON.stringify({ ...good, extra: true }),
    JSON.stringify({ ...good, expires_at: 1.5 }),
  ])
    assert.equal(decodeRevocation(bad), null, bad.slice(0, 80));
  assert.notEqual(decodeRevocation(JSON.stringify(good)), null);
  const change = encodeChange({ kind: 'grant', id: 'g1', node: 'n1' });
  assert.deepEqual(decodeChange(change), { kind: 'grant', id: 'g1', node: 'n1' });
  for (const bad of ['{}', JSON.stringify({ kind: 'policy', id: 'x', node: 'n' }), JSON.stringify({ kind: 'grant', id: 'x' })])
    assert.equal(decodeChange(bad), null, bad);
});
