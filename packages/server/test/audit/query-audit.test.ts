import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/storage/index.js';
import { queryAudit, taskChain } from '../../src/audit/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { callEvent, manualWriter, traceId } from './audit-fixtures.js';

async function addTask(
  db: Kysely<Database>,
  id: string,
  parent: string | null,
  chain: string[],
  createdAt: number,
  agent = 'agent-x',
): Promise<void> {
  await db
    .insertInto('tasks')
    .values({
      id,
      parent_id: parent,
      chain: JSON.stringify(chain),
      user_id: 'alice',
      agent_id: agent,
      resource_id: 'github',
      purpose: `purpose of ${id}`,
      authorization_details: '[]',
      status: 'active',
      created_at: createdAt,
      expires_at: createdAt + 60_000,
      ended_at: null,
      end_reason: null,
    })
    .execute();
}

describeEachStore('audit queries', (kind) => {
  test('by decision and by resource (exactly, with LIKE wildcards taken literally), newest first with seq paging', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store);
      for (let i = 1; i <= 12; i++) {
        const resource = i <= 4 ? 'github' : i <= 8 ? 'git_ub' : 'gitXhub';
        // A look-alike inside `data` must not match a resource filter.
        w.record(callEvent(i, { resource, data: { i, note: '"resource":"git_ub"' } }));
      }
      await w.close();
      const db = store.db;
      const denied = await queryAudit(db, { decision: 'deny' });
      assert.deepEqual(
        denied.map((e) => e.data?.['i']),
        [3, 6, 9, 12],
      );
      const underscore = await queryAudit(db, { resource: 'git_ub' });
      assert.deepEqual(
        underscore.map((e) => e.data?.['i']),
        [5, 6, 7, 8],
        '`_` is no wildcard, and text in data does not count',
      );
      assert.equal((await queryAudit(db, { resource: 'git%' })).length, 0);
      const newest = await queryAudit(db, { newestFirst: true, limit: 5 });
      assert.deepEqual(
        newest.map((e) => e.seq),
        [12, 11, 10, 9, 8],
      );
      const older = await queryAudit(db, { newestFirst: true, limit: 5, beforeSeq: 8 });
      assert.deepEqual(
        older.map((e) => e.seq),
        [7, 6, 5, 4, 3],
      );
    } finally {
      await store.dispose();
    }
  });

  test('filters on each indexed column, time windows, limit and seq paging', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store);
      const trace = traceId();
      for (let i = 1; i <= 24; i++) w.record(callEvent(i, i === 7 ? { trace_id: trace } : {}));
      await w.close();
      const db = store.db;
      const all = await queryAudit(db, { limit: 1000 });
      assert.equal(all.length, 24);
      assert.deepEqual(
        all.map((e) => e.seq),
        Array.from({ length: 24 }, (_, i) => i + 1),
      );
      assert.equal((await queryAudit(db)).length, 24, 'default limit 100');
      const t1 = await queryAudit(db, { taskId: 'task-1' });
      assert.deepEqual(
        t1.map((e) => e.data?.['i']),
        [1, 5, 9, 13, 17, 21],
      );
      assert.ok((await queryAudit(db, { agentId: 'agent-0' })).every((e) => e.agent_id === 'agent-0'));
      assert.equal((await queryAudit(db, { agentId: 'agent-0' })).length, 12);
      assert.equal((await queryAudit(db, { userId: 'alice' })).length, 24);
      assert.equal((await queryAudit(db, { userId: 'bob' })).length, 0);
      assert.deepEqual(
        (await queryAudit(db, { traceId: trace })).map((e) => e.data?.['i']),
        [7],
      );
      assert.equal((await queryAudit(db, { type: 'call.denied' })).length, 8);
      const base = 1_763_000_000_000;
      assert.deepEqual(
        (await queryAudit(db, { since: base + 5000, until: base + 8000 })).map((e) => e.data?.['i']),
        [5, 6, 7],
      );
      assert.deepEqual(
        (await queryAudit(db, { taskId: 'task-2', type: 'call.allowed' })).map((e) => e.data?.['i']),
        [2, 10, 14, 22],
      );
      // Paging: pass the last seq of one page to get the next.
      const p1 = await queryAudit(db, { limit: 10 });
      const p2 = await queryAudit(db, { limit: 10, afterSeq: p1.at(-1)?.seq ?? 0 });
      const p3 = await queryAudit(db, { limit: 10, afterSeq: p2.at(-1)?.seq ?? 0 });
      assert.deepEqual(
        [...p1, ...p2, ...p3].map((e) => e.seq),
        all.map((e) => e.seq),
      );
      // Entries are the hashed events plus their place in the chain.
      const e = all[0];
      assert.ok(e !== undefined);
      assert.deepEqual(e.actor_chain, ['alice', 'agent-1']);
      assert.match(e.hash, /^[0-9a-f]{64}$/);
      assert.equal(all[1]?.prev_hash, e.hash);
      await assert.rejects(queryAudit(db, { limit: 0 }), TypeError);
      await assert.rejects(queryAudit(db, { limit: 10_001 }), TypeError);
    } finally {
      await store.dispose();
    }
  });

  test('taskChain: the task and all its descendants, parents before children, each with its events', async () => {
    const store = await kind.open();
    try {
      const db = store.db;
      // root ─┬─ child-b ── grandchild
      //       └─ child-a   (created later than child-b)
      // plus an unrelated task, and ids with "_" that a LIKE pattern would confuse.
      await addTask(db, 'root', null, [], 100, 'planner');
      await addTask(db, 'child_b', 'root', ['root'], 200, 'coder');
      await addTask(db, 'child-a', 'root', ['root'], 300, 'reviewer');
      await addTask(db, 'grandchild', 'child_b', ['root', 'child_b'], 250, 'tester');
      await addTask(db, 'other', null, [], 150);
      await addTask(db, 'childxb', null, [], 160);
      await addTask(db, 'under-childxb', 'childxb', ['childxb'], 170);
      const w = manualWriter(store);
      const ev = (task: string, action: string): void =>
        w.record(callEvent(1, { task_id: task, action, type: 'call.allowed', decision: 'allow' }));
      w.record({
        type: 'token.issued',
        task_id: 'root',
        user_id: 'alice',
        agent_id: 'planner',
        actor_chain: ['alice', 'planner'],
        decision: 'allow',
        reason: 'granted',
        data: { purpose: 'fix the bug' },
      });
      ev('grandchild', 'g1');
      ev('root', 'r1');
      ev('other', 'o1');
      ev('child-a', 'a1');
      ev('child_b', 'b1');
      ev('under-childxb', 'x1');
      ev('root', 'r2');
      w.record({ type: 'task.completed', task_id: 'root', reason: 'done' });
      await w.close();

      const chain = await taskChain(db, 'root');
      assert.deepEqual(
        chain.tasks.map((t) => [t.id, t.depth]),
        [
          ['root', 0],
          ['child_b', 1],
          ['grandchild', 2],
          ['child-a', 1],
        ],
      );
      assert.deepEqual(
        chain.events.map((e) => `${e.task_id ?? ''}:${e.action ?? e.type}`),
        ['root:token.issued', 'root:r1', 'root:r2', 'root:task.completed', 'child_b:b1', 'grandchild:g1', 'child-a:a1'],
      );
      const sub = await taskChain(db, 'child_b');
      assert.deepEqual(
        sub.tasks.map((t) => t.id),
        ['child_b', 'grandchild'],
      );
      assert.deepEqual(
        sub.events.map((e) => e.action),
        ['b1', 'g1'],
      );
      // Events of a task whose row is gone are still found.
      assert.deepEqual((await taskChain(db, 'task-without-row')).events, []);
      await db.deleteFrom('tasks').where('id', '=', 'other').execute();
      assert.deepEqual(
        (await taskChain(db, 'other')).events.map((e) => e.action),
        ['o1'],
      );
    } finally {
      await store.dispose();
    }
  });
});
