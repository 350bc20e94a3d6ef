import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { openStore, type Database } from '../../src/storage/index.js';
import { chainHash, GENESIS_HASH, queryAudit, verifyAuditChain } from '../../src/audit/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { callEvent, manualWriter } from './audit-fixtures.js';

describeEachStore('audit writer', (kind) => {
  test('record buffers without I/O; flush writes the batch as a chain from the genesis', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store);
      for (let i = 1; i <= 250; i++) w.record(callEvent(i));
      assert.equal(w.pending(), 250);
      assert.equal((await store.db.selectFrom('audit_events').select('seq').execute()).length, 0, 'nothing written before flush');
      await w.flush();
      assert.equal(w.pending(), 0);
      const rows = await store.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
      assert.deepEqual(
        rows.map((r) => r.seq),
        Array.from({ length: 250 }, (_, i) => i + 1),
      );
      assert.equal(rows[0]?.prev_hash, GENESIS_HASH);
      for (const [i, r] of rows.entries()) {
        assert.equal(r.hash, chainHash(r.prev_hash, r.body));
        if (i > 0) assert.equal(r.prev_hash, rows[i - 1]?.hash);
        assert.equal((JSON.parse(r.body) as { action: string }).action, `GET /repos/${i + 1}`, 'record order is seq order');
      }
      // A second flush continues the chain from the stored head.
      w.record(callEvent(251));
      await w.flush();
      const head = await store.db.selectFrom('audit_events').select(['seq', 'prev_hash']).where('seq', '=', 251).executeTakeFirstOrThrow();
      assert.equal(head.prev_hash, rows.at(-1)?.hash);
      assert.deepEqual(await verifyAuditChain(store.db), {
        ok: true,
        count: 251,
        headSeq: 251,
        headHash: (await store.db.selectFrom('audit_events').select('hash').where('seq', '=', 251).executeTakeFirstOrThrow()).hash,
      });
      await w.close();
    } finally {
      await store.dispose();
    }
  });

  test('large backlogs are written in several transactions by one flush', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store, { maxBatch: 40 });
      for (let i = 1; i <= 130; i++) w.record(callEvent(i));
      await w.flush();
      assert.equal(w.pending(), 0);
      assert.equal((await verifyAuditChain(store.db)).ok, true);
      assert.equal((await queryAudit(store.db, { limit: 1000 })).length, 130);
      await w.close();
    } finally {
      await store.dispose();
    }
  });

  test('the stored body is the canonical event; the writer fills id, time and trace id', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store, { now: () => 42 });
      const data = { z: 1, a: { y: 2, b: 3 } };
      w.record({ type: 'admin.change', reason: 'agent.created', data });
      data.z = 999; // the caller's later mutation does not reach the log
      await w.close();
      const row = await store.db.selectFrom('audit_events').selectAll().executeTakeFirstOrThrow();
      const ev = JSON.parse(row.body) as Record<string, unknown>;
      assert.equal(row.time, 42);
      assert.equal(row.trace_id, ev['trace_id']);
      assert.match(row.trace_id ?? '', /^[0-9a-f]{32}$/);
      assert.equal(row.id, ev['id']);
      assert.ok(row.body.includes('"data":{"a":{"b":3,"y":2},"z":1}'));
      assert.throws(() => w.record({ type: 'x' }), /closed/);
    } finally {
      await store.dispose();
    }
  });

  test('close flushes what is buffered', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store);
      w.record(callEvent(1));
      w.record(callEvent(2));
      await w.close();
      assert.equal(w.pending(), 0);
      assert.equal((await queryAudit(store.db)).length, 2);
    } finally {
      await store.dispose();
    }
  });

  test('a failed flush keeps every event, reports unhealthy, and the retry writes them once, in order', async () => {
    const store = await kind.open();
    try {
      const errors: unknown[] = [];
      const w = manualWriter(store, { logger: { error: (o) => errors.push(o), warn: () => undefined } });
      w.record(callEvent(1));
      await w.flush();
      // A real failure: the store refuses the insert. (A trigger, not a renamed table: a rename races with other
      // suites' schema introspection on the shared PostgreSQL database.)
      await failInserts(kind.name, store.db, true);
      w.record(callEvent(2));
      w.record(callEvent(3));
      await assert.rejects(w.flush());
      assert.equal(w.pending(), 2);
      assert.equal(w.healthy(), false);
      assert.equal(errors.length, 1);
      w.record(callEvent(4)); // recorded while failing: queued behind the others
      await assert.rejects(w.flush());
      assert.equal(w.pending(), 3);
      await failInserts(kind.name, store.db, false);
      await w.flush();
      assert.equal(w.pending(), 0);
      assert.equal(w.healthy(), true);
      const events = await queryAudit(store.db);
      assert.deepEqual(
        events.map((e) => e.action),
        ['GET /repos/1', 'GET /repos/2', 'GET /repos/3', 'GET /repos/4'],
      );
      assert.equal((await verifyAuditChain(store.db)).ok, true);
      await w.close();
    } finally {
      await store.dispose();
    }
  });

  test('healthy() is false while the buffer is over its bound; events past it are kept', async () => {
    const store = await kind.open();
    try {
      const w = manualWriter(store, { maxBuffered: 5 });
      for (let i = 1; i <= 5; i++) w.record(callEvent(i));
      assert.equal(w.healthy(), true);
      w.record(callEvent(6));
      assert.equal(w.healthy(), false);
      assert.equal(w.pending(), 6);
      await w.flush();
      assert.equal(w.healthy(), true);
      assert.equal((await queryAudit(store.db)).length, 6);
      await w.close();
    } finally {
      await store.dispose();
    }
  });

  test('two writers on one store interleave into one unbroken chain', async () => {
    const store = await kind.open();
    try {
      const a = manualWriter(store);
      const b = manualWriter(store);
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 20; i++) {
          a.record(callEvent(round * 100 + i, { agent_id: 'writer-a' }));
          b.record(callEvent(round * 100 + 50 + i, { agent_id: 'writer-b' }));
        }
        await Promise.all([a.flush(), b.flush()]);
      }
      await Promise.all([a.close(), b.close()]);
      const r = await verifyAuditChain(store.db);
      assert.equal(r.ok, true);
      assert.equal(r.ok && r.count, 200);
      assert.equal((await queryAudit(store.db, { agentId: 'writer-a', limit: 1000 })).length, 100);
    } finally {
      await store.dispose();
    }
  });

  if (kind.name === 'postgres') {
    test('several processes on one PostgreSQL: the advisory lock keeps one chain (separate pools)', async () => {
      const store = await kind.open();
      // Opened one after another: concurrent first-time migrations are the storage layer's concern, not this test's.
      const others = [];
      for (let n = 0; n < 3; n++) others.push(await openStore(store.reopenOptions));
      try {
        const writers = [store, ...others].map((s) => manualWriter(s));
        for (let round = 0; round < 4; round++) {
          writers.forEach((w, n) => {
            for (let i = 0; i < 25; i++) w.record(callEvent(round * 1000 + n * 100 + i, { agent_id: `node-${n}` }));
          });
          await Promise.all(writers.map((w) => w.flush()));
        }
        await Promise.all(writers.map((w) => w.close()));
        const r = await verifyAuditChain(store.db, { batchSize: 37 });
        assert.equal(r.ok, true, JSON.stringify(r));
        assert.equal(r.ok && r.count, 400);
      } finally {
        await Promise.all(others.map((o) => o.close()));
        await store.dispose();
      }
    });
  }

  if (kind.name === 'sqlite') {
    test('a locked database fails the flush; the retry after the lock is released writes everything', async () => {
      const store = await kind.open();
      const path = store.reopenOptions.sqlitePath;
      assert.ok(path !== undefined);
      const other = new BetterSqlite3(path);
      try {
        // Short busy timeout on the writer's connection so the lock fails fast instead of waiting 5 s.
        await sql`PRAGMA busy_timeout = 20`.execute(store.db);
        const w = manualWriter(store);
        w.record(callEvent(1));
        other.exec('BEGIN EXCLUSIVE');
        await assert.rejects(w.flush(), /locked|busy/i);
        assert.equal(w.pending(), 1);
        assert.equal(w.healthy(), false);
        other.exec('COMMIT');
        await w.flush();
        assert.equal(w.healthy(), true);
        assert.equal((await queryAudit(store.db)).length, 1);
        await w.close();
      } finally {
        other.close();
        await store.dispose();
      }
    });
  }
});

/** Makes every insert into audit_events fail (`on`), or stops doing so. */
async function failInserts(store: 'sqlite' | 'postgres', db: Kysely<Database>, on: boolean): Promise<void> {
  if (store === 'sqlite') {
    if (on)
      await sql`CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store failing'); END`.execute(db);
    else await sql`DROP TRIGGER audit_fail`.execute(db);
    return;
  }
  if (on) {
    await sql`CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store failing'; END $$`.execute(
      db,
    );
    await sql`CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_fail()`.execute(db);
  } else {
    await sql`DROP TRIGGER audit_fail ON audit_events`.execute(db);
    await sql`DROP FUNCTION audit_fail()`.execute(db);
  }
}
