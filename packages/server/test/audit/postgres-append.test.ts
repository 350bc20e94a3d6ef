/**
 * The PostgreSQL audit append (postgres-audit-append.ts) against a second writer that holds the chain's advisory lock
 * at chosen moments: how many messages a batch takes, that a head read after the lock sees what the holder committed,
 * that the one-statement path never fails a writer on the locked path, and that a head another writer moved is noticed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { sql } from 'kysely';
import { chainHash, normalizeAuditEvent, verifyAuditChain, type AuditEventInput } from '../../src/audit/index.js';
import { auditRow, type AuditRow } from '../../src/audit/audit-row.js';
import { auditLockKey, insertAfter, postgresAppender } from '../../src/audit/postgres-audit-append.js';
import type { AuditAppender } from '../../src/audit/audit-appender.js';
import { postgresKind, TEST_DATABASE_URL, type TestStore } from '../helpers/stores.js';
import { callEvent } from './audit-fixtures.js';

const skip = TEST_DATABASE_URL === undefined && 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped';

let n = 0;
function rows(count: number, over: (i: number) => Partial<AuditEventInput> = () => ({})): AuditRow[] {
  return Array.from({ length: count }, (_, i) => {
    const { event, body } = normalizeAuditEvent(callEvent(++n, over(i)), Date.now);
    return auditRow(event, body);
  });
}

/** Every message the appenders named `name` send, by driver call (one per round trip). */
function messagesOf(name: string): { texts: string[]; errors: string[]; kinds(): string[]; restore(): void } {
  const texts: string[] = [];
  const errors: string[] = [];
  const original = pg.Client.prototype.query;
  const patched = function (this: pg.Client, ...args: unknown[]): unknown {
    const config = args[0] as string | { text: string };
    const self = this as unknown as { connectionParameters: { application_name?: string } };
    const mine = self.connectionParameters.application_name === name;
    if (mine) texts.push(typeof config === 'string' ? config : config.text);
    const result = (original as (...a: unknown[]) => unknown).apply(this, args);
    if (mine && result instanceof Promise) result.catch((err: Error) => errors.push(err.message));
    return result;
  };
  pg.Client.prototype.query = patched as typeof original;
  return {
    texts,
    errors,
    kinds: () =>
      texts.map((t) =>
        t.startsWith('BEGIN;') ? 'lock+head' : t.includes('INSERT INTO audit_events') ? 'insert' : t === 'COMMIT' ? 'commit' : t,
      ),
    restore: () => {
      pg.Client.prototype.query = original;
    },
  };
}

/** A second writer on its own connection, driven step by step: it holds the lock from `lock()` to `commit()`. */
async function otherWriter(store: TestStore): Promise<{
  pid: number;
  lock(): Promise<{ seq: number; hash: string }>;
  insert(head: { seq: number; hash: string }): Promise<void>;
  commit(): Promise<void>;
  end(): Promise<void>;
}> {
  const c = new pg.Client({ connectionString: store.connection?.connectionString, options: store.connection?.options });
  await c.connect();
  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  return {
    pid,
    async lock() {
      await c.query('BEGIN');
      await c.query(`SELECT pg_advisory_xact_lock(${auditLockKey(store.schema ?? '')})`);
      const h = (await c.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')).rows[0];
      return h === undefined ? { seq: 0, hash: '0'.repeat(64) } : { seq: Number(h.seq), hash: h.hash };
    },
    async insert(head) {
      const [r] = rows(1);
      assert.ok(r !== undefined);
      await c.query(
        `INSERT INTO audit_events (seq, id, time, type, trace_id, task_id, agent_id, user_id, decision, reason, body, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          head.seq + 1,
          r.id,
          r.time,
          r.type,
          r.trace_id,
          r.task_id,
          r.agent_id,
          r.user_id,
          r.decision,
          r.reason,
          r.body,
          head.hash,
          chainHash(head.hash, r.body),
        ],
      );
    },
    commit: () => c.query('COMMIT').then(() => undefined),
    end: () => c.end(),
  };
}

/** Resolves once `pending` settled or a session named `name` waits for a lock `holder` holds; says which. */
async function settledOrBlocked(store: TestStore, pending: Promise<unknown>, name: string, holder: number): Promise<'settled' | 'blocked'> {
  let settled = false;
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    if (settled) return 'settled';
    const r = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${name} AND ${holder}::int = ANY(pg_blocking_pids(pid))`.execute(
      store.db,
    );
    if ((r.rows[0]?.n ?? 0) > 0) return 'blocked';
    await new Promise((resolve) => setImmediate(resolve));
  }
}

type OtherWriter = Awaited<ReturnType<typeof otherWriter>>;

/** An appender under test (its connection named `name`) and a second writer, on a fresh schema. */
async function withAppender(fn: (a: AuditAppender, store: TestStore, name: string, other: OtherWriter) => Promise<void>): Promise<void> {
  const store = await postgresKind.open();
  const name = `writ-audit-test-${randomBytes(4).toString('hex')}`;
  assert.ok(store.connection !== undefined);
  const a = postgresAppender({ connection: store.connection, schema: store.schema ?? '', applicationName: name });
  const other = await otherWriter(store);
  try {
    await fn(a, store, name, other);
  } finally {
    await other.end();
    await a.close();
    await store.dispose();
  }
}

async function chainOf(store: TestStore): Promise<number> {
  const r = await verifyAuditChain(store.db);
  assert.equal(r.ok, true, JSON.stringify(r));
  return r.ok ? r.count : -1;
}

test('a batch onto the head the appender knows is one message; onto an unknown head, three', { skip }, async () => {
  await withAppender(async (a, store, name) => {
    const m = messagesOf(name);
    try {
      await a.append(rows(3), false);
      assert.deepEqual(m.kinds(), ['lock+head', 'insert', 'commit']);
      m.texts.length = 0;
      // Values an array literal must escape, in the indexed columns (which the verifier checks against the body).
      const tricky = rows(2, (i) => ({ task_id: i === 0 ? 'NULL' : '', agent_id: 'a"b\\c{d},e\'', user_id: 'ü ✓ 😀 \n\u0000' }));
      await a.append(tricky, false);
      await a.append(rows(500), false);
      assert.deepEqual(m.kinds(), ['insert', 'insert']);
      const stored = await store.db
        .selectFrom('audit_events')
        .select(['task_id', 'agent_id', 'user_id'])
        .where('seq', 'in', [4, 5])
        .orderBy('seq')
        .execute();
      assert.deepEqual(
        stored,
        tricky.map((r) => ({ task_id: r.task_id, agent_id: r.agent_id, user_id: r.user_id })),
      );
      m.texts.length = 0;
      // A retry after a failure may find part of its batch stored: it takes the locked path and skips those.
      const again = rows(4);
      await a.append(again.slice(0, 2), false);
      await a.append(again, true);
      assert.deepEqual(m.kinds(), ['insert', 'lock+head', 'SELECT id FROM audit_events WHERE id = ANY($1::text[])', 'insert', 'commit']);
    } finally {
      m.restore();
    }
    assert.equal(await chainOf(store), 509);
  });
});

test('the head is read only once the lock is held, so it sees what the holder committed meanwhile', { skip }, async () => {
  await withAppender(async (a, store, name, other) => {
    await other.insert(await other.lock());
    const pending = a.append(rows(5), false);
    assert.equal(await settledOrBlocked(store, pending, name, other.pid), 'blocked');
    await other.commit();
    await pending;
    assert.equal(await chainOf(store), 6);
  });
});

test('the one-statement path waits for a writer holding the lock and never fails it', { skip }, async () => {
  await withAppender(async (a, store, name, other) => {
    await a.append(rows(2), false);
    const head = await other.lock();
    // With the lock, the statement waits; without it, it would append seq 3 first and the holder's insert would fail.
    const pending = a.append(rows(3), false);
    assert.equal(await settledOrBlocked(store, pending, name, other.pid), 'blocked');
    await other.insert(head);
    await other.commit();
    await pending;
    assert.equal(await chainOf(store), 6);
  });
});

test('a head another writer moved is noticed: the batch chains after it, then the one-statement path pauses', { skip }, async () => {
  await withAppender(async (a, store, name, other) => {
    const m = messagesOf(name);
    try {
      await a.append(rows(2), false);
      await other.insert(await other.lock());
      await other.commit();
      m.texts.length = 0;
      await a.append(rows(2), false);
      assert.deepEqual(m.kinds(), ['insert', 'lock+head', 'insert', 'commit']);
      m.texts.length = 0;
      await a.append(rows(1), false);
      await a.append(rows(1), false);
      assert.deepEqual(m.kinds(), ['lock+head', 'insert', 'commit', 'insert']);
      // The guard, not the primary key, caught the moved head: PostgreSQL logged no error.
      assert.deepEqual(m.errors, []);
    } finally {
      m.restore();
    }
    assert.equal(await chainOf(store), 7);
  });
});

test('the guard reads the end of the key, not the table, in the plan PostgreSQL keeps for the statement', { skip }, async () => {
  await withAppender(async (a, store) => {
    for (let i = 0; i < 4; i++) await a.append(rows(5000), false);
    const c = new pg.Client({ connectionString: store.connection?.connectionString, options: store.connection?.options });
    await c.connect();
    try {
      await c.query('ANALYZE audit_events');
      // The plan a prepared statement settles on after a few executions: one made without the parameters' values.
      await c.query('SET plan_cache_mode = force_generic_plan');
      await c.query(`PREPARE append_after AS ${insertAfter(auditLockKey(store.schema ?? ''))}`);
      const empty = Array.from({ length: 13 }, () => "'{}'").join(', ');
      const plan = (await c.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) EXECUTE append_after(${empty}, 20000)`)).rows[0];
      const scans: string[] = [];
      const walk = (node: { 'Node Type'?: string; 'Relation Name'?: string; Plans?: unknown[] }): void => {
        if (node['Relation Name'] === 'audit_events' && node['Node Type'] !== 'ModifyTable') scans.push(node['Node Type'] ?? '?');
        for (const p of node.Plans ?? []) walk(p as typeof node);
      };
      walk((plan?.['QUERY PLAN'] as Array<{ Plan: Parameters<typeof walk>[0] }>)[0]?.Plan ?? {});
      assert.deepEqual(scans, ['Index Only Scan']);
    } finally {
      await c.end();
    }
  });
});

test("a chain in another schema of the same database never waits for this schema's lock", { skip }, async () => {
  await withAppender(async (_a, _store, _name, other) => {
    const elsewhere = await postgresKind.open();
    const name = `writ-audit-test-${randomBytes(4).toString('hex')}`;
    assert.ok(elsewhere.connection !== undefined && elsewhere.schema !== undefined);
    const b = postgresAppender({ connection: elsewhere.connection, schema: elsewhere.schema, applicationName: name });
    try {
      await other.lock();
      // The locked path (first batch), then the one-statement path: neither waits for the other schema's holder.
      for (const batch of [rows(2), rows(3)])
        assert.equal(await settledOrBlocked(elsewhere, b.append(batch, false), name, other.pid), 'settled');
      assert.equal(await chainOf(elsewhere), 5);
    } finally {
      await other.commit();
      await b.close();
      await elsewhere.dispose();
    }
  });
});
