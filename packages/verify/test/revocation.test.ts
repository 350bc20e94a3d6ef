/** RevocationSet: what each target hits, `before` semantics, merging, sequence tracking and pruning. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TaskTokenClaims } from '@writ/protocol';
import { RevocationSet, type RevocationEntryTarget } from '../src/internal.js';

const IAT = 1_000;
const JKT = 'jkt-of-the-proof-key';

const claims: TaskTokenClaims = {
  iss: 'https://writ.example',
  sub: 'dev:alice',
  aud: 'https://writ.example/r/api',
  client_id: 'child',
  act: { sub: 'child', act: { sub: 'parent', act: { sub: 'grandparent' } } },
  authorization_details: [],
  cnf: { jkt: JKT },
  jti: 'tok_1',
  iat: IAT,
  exp: IAT + 600,
  task_id: 'task_child',
  task_chain: ['task_root', 'task_parent'],
};

function only(target: RevocationEntryTarget, expiresAt = IAT + 3600): RevocationSet {
  const set = new RevocationSet();
  set.apply({ seq: 1, target, expiresAt });
  return set;
}

test('each target hits the token it names, with its own code', () => {
  const table: Array<[RevocationEntryTarget, string | null]> = [
    [{ type: 'token', jti: 'tok_1' }, 'ERR_REVOKED_TOKEN'],
    [{ type: 'token', jti: 'tok_2' }, null],
    [{ type: 'task', taskId: 'task_child' }, 'ERR_REVOKED_TASK'],
    [{ type: 'task', taskId: 'task_parent' }, 'ERR_REVOKED_TASK'],
    [{ type: 'task', taskId: 'task_root' }, 'ERR_REVOKED_TASK'],
    [{ type: 'task', taskId: 'task_sibling' }, null],
    [{ type: 'agent', agentId: 'child', before: IAT }, 'ERR_REVOKED_AGENT'],
    [{ type: 'agent', agentId: 'parent', before: IAT }, 'ERR_REVOKED_AGENT'],
    [{ type: 'agent', agentId: 'grandparent', before: IAT }, 'ERR_REVOKED_AGENT'],
    [{ type: 'agent', agentId: 'stranger', before: IAT }, null],
    [{ type: 'user', userId: 'dev:alice', before: IAT }, 'ERR_REVOKED_USER'],
    [{ type: 'user', userId: 'dev:bob', before: IAT }, null],
    [{ type: 'key', jkt: JKT, before: IAT }, 'ERR_REVOKED_KEY'],
    [{ type: 'key', jkt: 'another', before: IAT }, null],
    [{ type: 'all', before: IAT }, 'ERR_REVOKED_ALL'],
  ];
  for (const [target, expected] of table) assert.equal(only(target).check(claims, JKT), expected, JSON.stringify(target));
  // The key check covers both the proof's key and the token's bound key.
  assert.equal(only({ type: 'key', jkt: JKT, before: IAT }).check(claims, 'proof-key'), 'ERR_REVOKED_KEY');
  assert.equal(only({ type: 'key', jkt: 'proof-key', before: IAT }).check(claims, 'proof-key'), 'ERR_REVOKED_KEY');
});

test('`before` is inclusive: iat == before is revoked, iat == before + 1 is not', () => {
  const targets = (before: number): RevocationEntryTarget[] => [
    { type: 'agent', agentId: 'parent', before },
    { type: 'user', userId: 'dev:alice', before },
    { type: 'key', jkt: JKT, before },
    { type: 'all', before },
  ];
  for (const t of targets(IAT)) assert.notEqual(only(t).check(claims, JKT), null, `${t.type} before = iat`);
  for (const t of targets(IAT + 1)) assert.notEqual(only(t).check(claims, JKT), null, `${t.type} before = iat + 1`);
  for (const t of targets(IAT - 1)) assert.equal(only(t).check(claims, JKT), null, `${t.type}: token issued a second after`);
  for (const t of targets(IAT - 1)) assert.notEqual(only(t).check({ ...claims, iat: IAT - 1 }, JKT), null, `${t.type}: iat == before`);
});

test('repeated entries merge: the later `before` and the later expiry win, whatever the order', () => {
  const set = new RevocationSet();
  set.apply({ seq: 2, target: { type: 'user', userId: 'dev:alice', before: IAT + 10 }, expiresAt: 5_000 });
  set.apply({ seq: 1, target: { type: 'user', userId: 'dev:alice', before: IAT - 10 }, expiresAt: 9_000 });
  assert.equal(set.size, 1);
  assert.equal(set.check(claims, JKT), 'ERR_REVOKED_USER', 'the earlier before does not undo the later one');
  set.prune(6_000);
  assert.equal(set.size, 1, 'the later expiry is kept');
  assert.equal(set.check(claims, JKT), 'ERR_REVOKED_USER');
  const all = new RevocationSet();
  all.apply({ seq: 1, target: { type: 'all', before: IAT + 10 }, expiresAt: 5_000 });
  all.apply({ seq: 2, target: { type: 'all', before: IAT - 10 }, expiresAt: 9_000 });
  assert.equal(all.check(claims, JKT), 'ERR_REVOKED_ALL');
  assert.equal(all.size, 1);
  const task = new RevocationSet();
  task.apply({ seq: 1, target: { type: 'task', taskId: 't' }, expiresAt: 9_000 });
  task.apply({ seq: 2, target: { type: 'task', taskId: 't' }, expiresAt: 5_000 });
  assert.equal(task.prune(6_000), 0, 'a shorter expiry does not shorten the entry');
});

test('lastSeq is the highest applied sequence; size counts entries, not applications', () => {
  const set = new RevocationSet();
  assert.equal(set.lastSeq, 0);
  assert.equal(set.size, 0);
  set.apply({ seq: 7, target: { type: 'token', jti: 'a' }, expiresAt: 100 });
  set.apply({ seq: 3, target: { type: 'token', jti: 'a' }, expiresAt: 100 });
  assert.equal(set.lastSeq, 7, 'an older entry applied late does not move lastSeq back');
  assert.equal(set.size, 1);
  set.apply({ seq: 8, target: { type: 'task', taskId: 'a' }, expiresAt: 100 });
  set.apply({ seq: 9, target: { type: 'agent', agentId: 'a', before: 1 }, expiresAt: 100 });
  set.apply({ seq: 10, target: { type: 'user', userId: 'a', before: 1 }, expiresAt: 100 });
  set.apply({ seq: 11, target: { type: 'key', jkt: 'a', before: 1 }, expiresAt: 100 });
  set.apply({ seq: 12, target: { type: 'all', before: 1 }, expiresAt: 100 });
  assert.equal(set.size, 6, 'the same id in different target kinds are different entries');
  assert.equal(set.lastSeq, 12);
});

test('prune drops exactly the expired entries, and the rest keep working', () => {
  const set = new RevocationSet();
  set.apply({ seq: 1, target: { type: 'token', jti: 'tok_1' }, expiresAt: 100 });
  set.apply({ seq: 2, target: { type: 'task', taskId: 'task_root' }, expiresAt: 300 });
  set.apply({ seq: 3, target: { type: 'agent', agentId: 'gone', before: IAT }, expiresAt: 100 });
  set.apply({ seq: 4, target: { type: 'user', userId: 'dev:alice', before: IAT }, expiresAt: 300 });
  set.apply({ seq: 5, target: { type: 'key', jkt: 'old', before: IAT }, expiresAt: 200 });
  set.apply({ seq: 6, target: { type: 'all', before: 10 }, expiresAt: 150 });
  assert.equal(set.size, 6);
  assert.equal(set.check(claims, JKT), 'ERR_REVOKED_TOKEN');
  assert.equal(set.prune(100), 0, 'expiresAt is inclusive: nothing expires at its own second');
  assert.equal(set.prune(101), 2, 'token and agent');
  assert.equal(set.size, 4);
  assert.equal(set.check(claims, JKT), 'ERR_REVOKED_TASK', 'the unexpired entries still hit');
  assert.equal(set.prune(201), 2, 'all and key');
  assert.equal(set.check(claims, JKT), 'ERR_REVOKED_TASK');
  assert.equal(set.prune(301), 2);
  assert.equal(set.size, 0);
  assert.equal(set.check(claims, JKT), null);
  assert.equal(set.lastSeq, 6, 'pruning does not change how current the set is');
});

test('prune by expiry minute: an entry extended into a later minute survives the earlier one; the index follows the set', () => {
  const set = new RevocationSet();
  const t0 = 1_800_000_000; // a minute boundary
  set.apply({ seq: 1, target: { type: 'token', jti: 'tok_x' }, expiresAt: t0 + 10 });
  set.apply({ seq: 2, target: { type: 'token', jti: 'tok_x' }, expiresAt: t0 + 130 }); // extended by two minutes
  set.apply({ seq: 3, target: { type: 'agent', agentId: 'a', before: 1 }, expiresAt: t0 + 20 });
  set.apply({ seq: 4, target: { type: 'agent', agentId: 'a', before: 2 }, expiresAt: t0 + 5 }); // merge keeps t0 + 20
  for (let i = 0; i < 900; i++) set.apply({ seq: 10 + i, target: { type: 'task', taskId: `task_${i}` }, expiresAt: t0 + 30 + (i % 90) });
  assert.equal(set.size, 902);
  assert.equal(set.prune(t0 + 11), 0, 'tok_x was extended: its first minute no longer holds it');
  assert.equal(set.prune(t0 + 21), 1, 'the agent, at its merged expiry');
  assert.equal(set.prune(t0 + 60), 300, 'tasks expiring at t0+30 … t0+59, ten each');
  assert.equal(set.prune(t0 + 120), 600);
  assert.equal(set.size, 1, 'tok_x');
  set.apply({ seq: 2000, target: { type: 'task', taskId: 'task_9' }, expiresAt: t0 + 200 }); // revoked again, later
  assert.equal(set.prune(t0 + 131), 1, 'tok_x at its extended expiry; task_9 lives on');
  assert.equal(set.size, 1);
  assert.equal(set.prune(t0 + 201), 1);
  assert.equal(set.size, 0);
});

test('a check costs the same with many unrelated revocations (structure sanity)', () => {
  const set = new RevocationSet();
  for (let i = 0; i < 50_000; i++) {
    set.apply({ seq: i + 1, target: { type: 'token', jti: `t${i}` }, expiresAt: 10_000 });
    set.apply({ seq: i + 1, target: { type: 'agent', agentId: `a${i}`, before: IAT }, expiresAt: 10_000 });
  }
  assert.equal(set.size, 100_000);
  assert.equal(set.check(claims, JKT), null);
  assert.equal(set.check({ ...claims, jti: 't49999' }, JKT), 'ERR_REVOKED_TOKEN');
  assert.equal(set.check({ ...claims, client_id: 'a123' }, JKT), 'ERR_REVOKED_AGENT');
});
