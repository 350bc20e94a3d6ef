import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openStore } from '../../src/storage/index.js';
import { describeEachStore, postgresKind, TEST_DATABASE_URL } from '../helpers/stores.js';

describeEachStore('storage', (kind) => {
  test('migrations create every table and a reopen applies nothing twice', async () => {
    const store = await kind.open();
    try {
      // Each table answers a query in this store's own schema. (Introspection would list every schema of the
      // database, and race the other suites that drop theirs when they finish.)
      for (const t of [
        'agents',
        'tasks',
        'tokens',
        'revocations',
        'audit_events',
        'secrets',
        'secret_versions',
        'grants',
        'approvals',
        'budget_counters',
        'tool_schemas',
      ] as const) {
        await assert.doesNotReject(
          store.db
            .selectFrom(t)
            .select(sql<number>`1`.as('one'))
            .limit(1)
            .execute(),
          `missing table ${t}`,
        );
      }
      const again = await openStore(store.reopenOptions);
      await again.close();
    } finally {
      await store.dispose();
    }
  });

  test('epoch milliseconds round-trip as numbers and revocation seq increases', async () => {
    const store = await kind.open();
    try {
      const now = 1_763_000_000_123;
      const row = {
        target_type: 'task' as const,
        target_id: 't1',
        before: null,
        expires_at: now,
        reason: 'r',
        actor: 'a',
        created_at: now,
      };
      const a = await store.db.insertInto('revocations').values(row).returning('seq').executeTakeFirstOrThrow();
      const b = await store.db
        .insertInto('revocations')
        .values({ ...row, target_id: 't2' })
        .returning('seq')
        .executeTakeFirstOrThrow();
      assert.equal(typeof a.seq, 'number');
      assert.ok(b.seq > a.seq);
      const back = await store.db.selectFrom('revocations').select(['created_at']).where('seq', '=', a.seq).executeTakeFirstOrThrow();
      assert.equal(back.created_at, now);
    } finally {
      await store.dispose();
    }
  });
});

test(
  "PostgreSQL: a dedicated connection keeps the store's schema, and commits asynchronously only when asked",
  { skip: TEST_DATABASE_URL === undefined && 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped' },
  async () => {
    const store = await postgresKind.open();
    const plain = store.dedicated?.();
    const fast = store.dedicated?.({ connections: 2, asynchronousCommit: true });
    try {
      assert.ok(plain !== undefined && fast !== undefined);
      const setting = async (db: typeof plain): Promise<{ commit: string; schema: string }> => {
        const r = await sql<{
          commit: string;
          schema: string;
        }>`select current_setting('synchronous_commit') as commit, current_schema() as schema`.execute(db);
        return r.rows[0] as { commit: string; schema: string };
      };
      assert.deepEqual(await setting(plain), { commit: 'on', schema: store.schema });
      // Both of its connections at once: each session has the setting, not only the first.
      const both = await Promise.all([fast.connection().execute(setting), fast.connection().execute(setting)]);
      assert.deepEqual(both, [
        { commit: 'off', schema: store.schema },
        { commit: 'off', schema: store.schema },
      ]);
      // Its writes land in the store's own tables, seen at once by the store's pool.
      await fast.insertInto('budget_counters').values({ key: 'k', window_start: 1, used: 1, cap: 2, expires_at: 9 }).execute();
      assert.equal((await store.db.selectFrom('budget_counters').select('used').where('key', '=', 'k').executeTakeFirst())?.used, 1);
    } finally {
      await plain?.destroy();
      await fast?.destroy();
      await store.dispose();
    }
  },
);

test('SQLite: cached prepared statements stay correct across schema changes, streams and failed statements', async () => {
  const store = await openStore({});
  try {
    await sql`CREATE TABLE t (id TEXT PRIMARY KEY)`.execute(store.db);
    const insert = (id: string) => sql`INSERT INTO t (id) VALUES (${id})`.execute(store.db);
    const all = async () => (await sql<Record<string, unknown>>`SELECT * FROM t ORDER BY id`.execute(store.db)).rows;
    await insert('a');
    assert.deepEqual(await all(), [{ id: 'a' }]);
    // The same SQL text after the table changed: `*` must name the new column (SQLite re-prepares).
    await sql`ALTER TABLE t ADD COLUMN n INTEGER DEFAULT 7`.execute(store.db);
    assert.deepEqual(await all(), [{ id: 'a', n: 7 }]);
    // A constraint failure leaves the cached insert usable.
    await assert.rejects(insert('a'), /UNIQUE|PRIMARY KEY/);
    await insert('b');
    // A stream over a cached statement, then the same statement again.
    const streamed: unknown[] = [];
    for await (const row of store.db
      .selectFrom('t' as never)
      .selectAll()
      .stream())
      streamed.push(row);
    assert.equal(streamed.length, 2);
    for await (const row of store.db
      .selectFrom('t' as never)
      .selectAll()
      .stream()) {
      streamed.push(row);
      break;
    }
    assert.equal(
      (
        await store.db
          .selectFrom('t' as never)
          .selectAll()
          .execute()
      ).length,
      2,
    );
  } finally {
    await store.close();
  }
});
