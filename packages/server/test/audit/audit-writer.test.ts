import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../../src/storage/index.js';
import {
  AuditUnavailableError,
  chainHash,
  createAuditWriter,
  GENESIS_HASH,
  queryAudit,
  storeAppender,
  threadedSqliteAppender,
  verifyAuditChain,
  type AuditAppender,
} from '../../src/audit/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { auditLockKey } from '../../src/audit/postgres-audit-append.js';
import { failInserts } from '../helpers/failing-inserts.js';
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
      const restore = await failInserts(kind.name, store.db, 'audit_events');
      w.record(callEvent(2));
      w.record(callEvent(3));
      await assert.rejects(w.flush());
      assert.equal(w.pending(), 2);
      assert.equal(w.healthy(), false);
      assert.equal(errors.length, 1);
      w.record(callEvent(4)); // recorded while failing: queued behind the others
      await assert.rejects(w.flush());
      assert.equal(w.pending(), 3);
      await restore();
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

  test('commit resolves once its event is stored; the commits of one turn share one transaction, behind what was recorded', async () => {
    const store = await kind.open();
    const inner = storeAppender(store);
    let appends = 0;
    const counting: AuditAppender = {
      runs: inner.runs,
      close: () => inner.close(),
      append(batch, uncertain) {
        appends++;
        return inner.append(batch, uncertain);
      },
    };
    assert.equal(inner.runs, kind.name === 'sqlite' ? 'writer-thread' : 'dedicated-connection');
    const w = createAuditWriter({ appender: counting, flushIntervalMs: 3_600_000, maxBuffered: 10_000 });
    try {
      w.record(callEvent(0, { action: 'recorded first' }));
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => w.commit(callEvent(i + 1))));
      assert.equal(appends, 1, 'one transaction for the whole turn');
      assert.equal(w.pending(), 0);
      const stored = await queryAudit(store.db, { limit: 100 });
      assert.equal(stored.length, 51);
      assert.equal(stored[0]?.action, 'recorded first', 'queue order is chain order');
      assert.deepEqual(
        stored.slice(1).map((e) => e.id),
        ids,
      );
      // Each commit resolved only after its own row was there: one more, alone, is readable at once.
      const id = await w.commit(callEvent(99));
      assert.equal((await queryAudit(store.db, { limit: 100 })).at(-1)?.id, id);
      assert.equal((await verifyAuditChain(store.db)).ok, true);
    } finally {
      await w.close();
      await store.dispose();
    }
  });

  test('a commit the store does not complete in time rejects, and its event stays queued and is written later', async () => {
    const store = await kind.open();
    const w = manualWriter(store, { commitTimeoutMs: 50 });
    // The writer's transaction waits on a lock another connection holds (longer than the deadline, shorter than the
    // busy timeout): the commit is neither done nor failed when its deadline passes.
    const lock = await holdAuditLock(kind.name, store);
    try {
      const pending = w.commit(callEvent(1, { action: 'written late' }));
      await assert.rejects(pending, (e: unknown) => e instanceof AuditUnavailableError && e.code === 'ERR_AUDIT_UNAVAILABLE');
      assert.equal(w.pending(), 1, 'the event stays queued');
      await lock.release();
      await w.flush();
      assert.deepEqual(
        (await queryAudit(store.db)).map((e) => e.action),
        ['written late'],
      );
      assert.equal((await verifyAuditChain(store.db)).ok, true);
    } finally {
      await lock.release();
      await w.close();
      await store.dispose();
    }
  });

  test('while the writer is unhealthy, commit refuses at once and queues nothing', async () => {
    const store = await kind.open();
    const w = manualWriter(store, { logger: { error: () => undefined, warn: () => undefined } });
    try {
      const restore = await failInserts(kind.name, store.db, 'audit_events');
      w.record(callEvent(1));
      await assert.rejects(w.flush());
      assert.equal(w.healthy(), false);
      // Thrown, not a rejected promise: the caller knows no record saying "allowed" can appear later.
      assert.throws(() => w.commit(callEvent(2)), AuditUnavailableError);
      assert.equal(w.pending(), 1);
      await restore();
      await w.flush();
      await w.commit(callEvent(3));
      await w.flush();
      assert.deepEqual(
        (await queryAudit(store.db)).map((e) => e.action),
        ['GET /repos/1', 'GET /repos/3'],
      );
    } finally {
      await w.close();
      await store.dispose();
    }
  });

  if (kind.name === 'sqlite') {
    test('SQLite: a commit is durable once journaled; a writer that stops without closing leaves it to the next, which chains it first', async () => {
      const store = await kind.open();
      const first = manualWriter(store);
      const id = await first.commit(callEvent(1, { action: 'journaled, never chained by its writer' }));
      // Committed, in the journal, not yet in the chain (the manual writer's chain write is an hour away).
      assert.deepEqual(
        (await store.db.selectFrom('audit_journal').select('id').execute()).map((r) => r.id),
        [id],
      );
      assert.equal((await queryAudit(store.db)).length, 0);
      // As if the process died: this writer is dropped, never flushed or closed, and a new one starts on the store.
      const second = manualWriter(store);
      second.record(callEvent(2, { action: 'recorded after the restart' }));
      await second.flush();
      assert.deepEqual(
        (await queryAudit(store.db)).map((e) => e.action),
        ['journaled, never chained by its writer', 'recorded after the restart'],
        'the journal is chained before anything the new writer writes',
      );
      assert.equal((await store.db.selectFrom('audit_journal').select('id').execute()).length, 0);
      assert.equal((await verifyAuditChain(store.db)).ok, true);
      // And a write-ahead record that its writer did chain is gone from the journal in the same transaction.
      await second.commit(callEvent(3));
      await second.flush();
      assert.equal((await store.db.selectFrom('audit_journal').select('id').execute()).length, 0);
      await second.close();
      await store.dispose();
    });

    test('the writer thread dies: the batch in flight is retried once a new thread runs, and stored once', async () => {
      const store = await kind.open();
      const file = store.sqliteFile;
      assert.ok(file !== undefined);
      const appender = threadedSqliteAppender({ ...file, busyTimeoutMs: 5_000 });
      const w = createAuditWriter({
        appender,
        flushIntervalMs: 1,
        commitTimeoutMs: 60_000,
        maxBuffered: 10_000,
        logger: { error: () => undefined, warn: () => undefined },
      });
      // A flush fails while the thread it went to died under it; the next starts a new thread.
      const untilFlushed = async (): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
          try {
            await w.flush();
            return;
          } catch (err) {
            if (attempt >= 20) throw err;
          }
        }
      };
      try {
        await w.commit(callEvent(1));
        // Killed while idle or with its chain write in flight: either way it is written once.
        await appender.crashForTest();
        await untilFlushed();
        // Killed with the next record's journal or chain write in flight, or after: it is durable either way.
        const second = w.commit(callEvent(2));
        await appender.crashForTest();
        await second;
        await untilFlushed();
        await w.commit(callEvent(3));
        await untilFlushed();
        assert.ok(appender.restarts >= 1);
        const stored = await queryAudit(store.db);
        assert.deepEqual(
          stored.map((e) => e.action),
          ['GET /repos/1', 'GET /repos/2', 'GET /repos/3'],
        );
        assert.equal((await verifyAuditChain(store.db)).ok, true);
      } finally {
        await w.close();
        await store.dispose();
      }
    });
  }

  if (kind.name === 'sqlite') {
    test('the writer thread copies the WAL back into the database file after the last write, unasked', async () => {
      const store = await kind.open();
      const file = store.sqliteFile;
      assert.ok(file !== undefined);
      // Neither connection checkpoints by itself: until the thread's checkpoint, the database file does not change.
      const w = createAuditWriter({ appender: storeAppender(store), flushIntervalMs: 1, maxBuffered: 10_000 });
      try {
        await w.flush();
        const before = statSync(file.path).size;
        for (let i = 1; i <= 2_000; i++) w.record(callEvent(i, { detail: 'x'.repeat(200) }));
        await w.flush();
        // No further write comes to run it: the thread's trailing checkpoint must.
        const deadline = Date.now() + 10_000;
        while (statSync(file.path).size <= before) {
          assert.ok(Date.now() < deadline, 'the database file never grew: no checkpoint ran');
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        await w.close();
        await store.dispose();
      }
    });
  }

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
        const w = manualWriter(store, {}, 20);
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

/** Another connection holds the lock the audit writer's transaction needs, until `release`. */
async function holdAuditLock(
  kind: 'sqlite' | 'postgres',
  store: { reopenOptions: { sqlitePath?: string; databaseUrl?: string; pgSchema?: string } },
): Promise<{ release(): Promise<void> }> {
  let released = false;
  if (kind === 'sqlite') {
    const path = store.reopenOptions.sqlitePath;
    assert.ok(path !== undefined);
    const other = new BetterSqlite3(path);
    other.exec('BEGIN EXCLUSIVE');
    return {
      release() {
        if (!released) {
          released = true;
          other.exec('COMMIT');
          other.close();
        }
        return Promise.resolve();
      },
    };
  }
  const client = new pg.Client({ connectionString: store.reopenOptions.databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  // The writer's advisory lock, the store's schema's own (postgres-audit-append.ts).
  await client.query(`SELECT pg_advisory_xact_lock(${auditLockKey(store.reopenOptions.pgSchema ?? 'public')})`);
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query('COMMIT');
      await client.end();
    },
  };
}

test('group commit: an idle writer starts the journal write at once; commits made while it runs share the next', async () => {
  const journaled: number[] = [];
  let release: (() => void) | undefined;
  const appender: AuditAppender = {
    runs: 'writer-thread',
    append: () => Promise.resolve(),
    journal: (entries) => {
      journaled.push(entries.length);
      // The first journal write stays under way until released; the later ones complete at once.
      return journaled.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  const w = createAuditWriter({ appender, flushIntervalMs: 3_600_000, maxBuffered: 1_000 });
  try {
    const first = w.commit(callEvent(1));
    // Before any turn of the event loop (a setImmediate would run first otherwise): the journal write has started.
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    await Promise.resolve();
    assert.deepEqual(journaled, [1], 'the journal write started without waiting for a turn of the event loop');
    const later = [w.commit(callEvent(2)), w.commit(callEvent(3)), w.commit(callEvent(4))];
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(journaled, [1], 'commits made while a write is under way wait for it');
    release?.();
    await Promise.all([first, ...later]);
    assert.deepEqual(journaled, [1, 3], 'and then go in one transaction');
  } finally {
    release?.();
    await w.close();
  }
});
