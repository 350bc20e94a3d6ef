import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/storage/index.js';
import { describeEachStore } from '../helpers/stores.js';

describeEachStore('storage', (kind) => {
  test('migrations create every table and a reopen applies nothing twice', async () => {
    const store = await kind.open();
    try {
      const tables = await store.db.introspection.getTables();
      const names = tables.map((t) => t.name);
      for (const t of ['agents', 'tasks', 'tokens', 'revocations', 'audit_events', 'secrets', 'secret_versions', 'grants']) {
        assert.ok(names.includes(t), `missing table ${t}`);
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
