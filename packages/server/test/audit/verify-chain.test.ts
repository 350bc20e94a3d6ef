import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/storage/index.js';
import { canonicalJson, chainHash, GENESIS_HASH, verifyAuditChain, type AuditChainResult } from '../../src/audit/index.js';
import { describeEachStore, type TestStore } from '../helpers/stores.js';
import { callEvent, manualWriter, traceId, writeEvents } from './audit-fixtures.js';

type Db = Kysely<Database>;

async function row(db: Db, seq: number) {
  return db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}

/** Moves rows one at a time (a bulk `seq = seq + 1` can trip the primary key mid-statement). */
async function shift(db: Db, fromSeq: number, by: 1 | -1): Promise<void> {
  const seqs = (
    await db
      .selectFrom('audit_events')
      .select('seq')
      .where('seq', '>=', fromSeq)
      .orderBy('seq', by === 1 ? 'desc' : 'asc')
      .execute()
  ).map((r) => r.seq);
  for (const s of seqs)
    await db
      .updateTable('audit_events')
      .set({ seq: s + by })
      .where('seq', '=', s)
      .execute();
}

/** A well-formed forged row: canonical body, self-consistent hash, columns matching the body. */
function forged(seq: number, prevHash: string, i = 999) {
  const e = { ...callEvent(i), id: randomUUID(), trace_id: traceId() };
  const body = canonicalJson(e);
  return {
    seq,
    id: e.id,
    time: e.time as number,
    type: e.type,
    trace_id: e.trace_id,
    task_id: e.task_id ?? null,
    agent_id: e.agent_id ?? null,
    user_id: e.user_id ?? null,
    decision: e.decision ?? null,
    reason: e.reason ?? null,
    body,
    prev_hash: prevHash,
    hash: chainHash(prevHash, body),
  };
}

function bad(r: AuditChainResult): { firstBadSeq: number; problem: string } {
  assert.equal(r.ok, false, 'tampering went undetected');
  if (r.ok) throw new Error('unreachable');
  return { firstBadSeq: r.firstBadSeq, problem: r.problem };
}

describeEachStore('audit chain verification', (kind) => {
  async function withChain(n: number, fn: (db: Db, store: TestStore) => Promise<void>): Promise<void> {
    const store = await kind.open();
    try {
      await writeEvents(store, n);
      await fn(store.db, store);
    } finally {
      await store.dispose();
    }
  }

  test('an untouched chain verifies, in any batch size and from any point', () =>
    withChain(10, async (db) => {
      const head = await row(db, 10);
      for (const batchSize of [1, 3, 10, 1000])
        assert.deepEqual(await verifyAuditChain(db, { batchSize }), { ok: true, count: 10, headSeq: 10, headHash: head.hash });
      assert.deepEqual(await verifyAuditChain(db, { fromSeq: 4, batchSize: 2 }), { ok: true, count: 7, headSeq: 10, headHash: head.hash });
      assert.deepEqual(await verifyAuditChain(db, { anchor: { seq: 7, hash: (await row(db, 7)).hash } }), {
        ok: true,
        count: 10,
        headSeq: 10,
        headHash: head.hash,
      });
    }));

  test('a NUL in an indexed field: the column keeps U+FFFD, the body the exact value, and the chain verifies', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store);
      w.record(callEvent(1, { user_id: 'ali\u0000ce', reason: '\u0000' }));
      await w.close();
      const r = await row(store.db, 1);
      assert.equal(r.user_id, 'ali\uFFFDce');
      assert.equal((JSON.parse(r.body) as { user_id: string }).user_id, 'ali\u0000ce');
      assert.equal((await verifyAuditChain(store.db)).ok, true);
      // The rule is applied, not the comparison loosened: any other value in the column is still caught.
      await store.db.updateTable('audit_events').set({ user_id: 'ali?ce' }).where('seq', '=', 1).execute();
      assert.deepEqual(bad(await verifyAuditChain(store.db)), { firstBadSeq: 1, problem: 'altered' });
    } finally {
      await store.dispose();
    }
  });

  test('an empty log verifies as the genesis', async () => {
    const store = await kind.open();
    try {
      assert.deepEqual(await verifyAuditChain(store.db), { ok: true, count: 0, headSeq: 0, headHash: GENESIS_HASH });
    } finally {
      await store.dispose();
    }
  });

  test('altered: a body edited in place', () =>
    withChain(10, async (db) => {
      const r5 = await row(db, 5);
      await db
        .updateTable('audit_events')
        .set({ body: r5.body.replace('"decision":"allow"', '"decision":"deny"') })
        .where('seq', '=', 5)
        .execute();
      assert.deepEqual(bad(await verifyAuditChain(db, { batchSize: 3 })), { firstBadSeq: 5, problem: 'altered' });
    }));

  test('altered: an indexed column edited to hide an event from queries', () =>
    withChain(10, async (db) => {
      await db.updateTable('audit_events').set({ task_id: 'someone-else' }).where('seq', '=', 6).execute();
      const r = await verifyAuditChain(db);
      assert.deepEqual(bad(r), { firstBadSeq: 6, problem: 'altered' });
      assert.match(!r.ok ? r.detail : '', /column task_id/);
    }));

  test('altered: a hash edited in place', () =>
    withChain(10, async (db) => {
      await db
        .updateTable('audit_events')
        .set({ hash: 'f'.repeat(64) })
        .where('seq', '=', 3)
        .execute();
      assert.deepEqual(bad(await verifyAuditChain(db)), { firstBadSeq: 3, problem: 'altered' });
    }));

  test('an event rewritten with a recomputed hash breaks the next link', () =>
    withChain(10, async (db) => {
      const r5 = await row(db, 5);
      const body = r5.body.replace('"decision":"allow"', '"decision":"deny"').replace('"reason":"allowed"', '"reason":"ERR_POLICY_DENIED"');
      assert.notEqual(body, r5.body);
      await db
        .updateTable('audit_events')
        .set({ body, hash: chainHash(r5.prev_hash, body), decision: 'deny', reason: 'ERR_POLICY_DENIED' })
        .where('seq', '=', 5)
        .execute();
      const r = await verifyAuditChain(db);
      // Indistinguishable from "event 5 removed, the rest renumbered, a forged 5 put in its place": the detail says both.
      assert.deepEqual(bad(r), { firstBadSeq: 6, problem: 'removed' });
      assert.match(!r.ok ? r.detail : '', /rewritten/);
    }));

  test('removed: a gap in seq', () =>
    withChain(10, async (db) => {
      await db.deleteFrom('audit_events').where('seq', 'in', [5, 6]).execute();
      const r = await verifyAuditChain(db);
      assert.deepEqual(bad(r), { firstBadSeq: 5, problem: 'removed' });
      assert.match(!r.ok ? r.detail : '', /5\.\.6/);
    }));

  test('removed: deleted and the rest renumbered', () =>
    withChain(10, async (db) => {
      await db.deleteFrom('audit_events').where('seq', '=', 5).execute();
      await shift(db, 6, -1);
      assert.deepEqual(bad(await verifyAuditChain(db)), { firstBadSeq: 5, problem: 'removed' });
    }));

  test('removed: the first event, with or without renumbering', () =>
    withChain(10, async (db) => {
      await db.deleteFrom('audit_events').where('seq', '=', 1).execute();
      assert.deepEqual(bad(await verifyAuditChain(db)), { firstBadSeq: 1, problem: 'removed' });
      await shift(db, 2, -1);
      assert.deepEqual(bad(await verifyAuditChain(db)), { firstBadSeq: 1, problem: 'removed' });
    }));

  test('removed from the tail: invisible to the chain alone, caught by an anchor', () =>
    withChain(10, async (db) => {
      const anchor = { seq: 10, hash: (await row(db, 10)).hash };
      await db.deleteFrom('audit_events').where('seq', '>=', 9).execute();
      const plain = await verifyAuditChain(db);
      assert.equal(plain.ok, true, 'documented limit: a truncated tail is still a valid chain');
      assert.equal(plain.ok && plain.headSeq, 8);
      assert.deepEqual(bad(await verifyAuditChain(db, { anchor })), { firstBadSeq: 9, problem: 'removed' });
    }));

  test('inserted: a forged event slipped into the middle, the rest renumbered', () =>
    withChain(10, async (db) => {
      await shift(db, 6, 1);
      await db
        .insertInto('audit_events')
        .values(forged(6, (await row(db, 5)).hash))
        .execute();
      const r = await verifyAuditChain(db);
      assert.deepEqual(bad(r), { firstBadSeq: 6, problem: 'inserted' });
      assert.match(!r.ok ? r.detail : '', /event 7 follows event 5/);
    }));

  test('inserted: a forged first event before the genesis', () =>
    withChain(5, async (db) => {
      await shift(db, 1, 1);
      await db.insertInto('audit_events').values(forged(1, GENESIS_HASH)).execute();
      assert.deepEqual(bad(await verifyAuditChain(db)), { firstBadSeq: 1, problem: 'inserted' });
    }));

  test('inserted: an event appended that links to an earlier event', () =>
    withChain(10, async (db) => {
      await db
        .insertInto('audit_events')
        .values(forged(11, (await row(db, 3)).hash))
        .execute();
      assert.equal(bad(await verifyAuditChain(db)).problem, 'inserted');
    }));

  test('inserted: a duplicated event', () =>
    withChain(6, async (db) => {
      const r3 = await row(db, 3);
      if (kind.name === 'sqlite') {
        // The schema itself refuses a second row with the same event id.
        await assert.rejects(
          db
            .insertInto('audit_events')
            .values({ ...r3, seq: 7 })
            .execute(),
          /UNIQUE/,
        );
        return;
      }
      // On PostgreSQL an attacker with DDL rights can drop the constraint first.
      await sql`ALTER TABLE audit_events DROP CONSTRAINT audit_events_id_key`.execute(db);
      await db
        .insertInto('audit_events')
        .values({ ...r3, seq: 7 })
        .execute();
      const r = await verifyAuditChain(db);
      assert.deepEqual(bad(r), { firstBadSeq: 7, problem: 'inserted' });
      assert.match(!r.ok ? r.detail : '', /duplicates event 3/);
    }));

  test('reordered: two events swapped', () =>
    withChain(10, async (db) => {
      await db.updateTable('audit_events').set({ seq: -4 }).where('seq', '=', 4).execute();
      await db.updateTable('audit_events').set({ seq: 4 }).where('seq', '=', 5).execute();
      await db.updateTable('audit_events').set({ seq: 5 }).where('seq', '=', -4).execute();
      assert.deepEqual(bad(await verifyAuditChain(db)), { firstBadSeq: 4, problem: 'reordered' });
    }));

  test('fromSeq with its starting point removed', () =>
    withChain(10, async (db) => {
      await db.deleteFrom('audit_events').where('seq', '=', 4).execute();
      assert.deepEqual(bad(await verifyAuditChain(db, { fromSeq: 5 })), { firstBadSeq: 4, problem: 'removed' });
      await assert.rejects(verifyAuditChain(db, { fromSeq: 0 }), TypeError);
    }));
});
