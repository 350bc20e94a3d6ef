/**
 * Where a node remembers proofs on PostgreSQL (`dpop.replayAsynchronousCommit`): by default on the store's pool,
 * every upsert durable; asked to, on connections of its own that commit without waiting for the WAL flush. Either
 * way a proof seen by one node is a replay at every other while PostgreSQL runs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { RevocationSet } from '@writ/verify/internal';
import { loadConfig } from '../../src/config/index.js';
import { KeyEncryptionKey, KeyRing } from '../../src/crypto/index.js';
import { createCallCheck } from '../../src/server/call-check-wiring.js';
import { SigningKeys } from '../../src/token/index.js';
import { postgresKind, TEST_DATABASE_URL, type TestStore } from '../helpers/stores.js';

const skip = TEST_DATABASE_URL === undefined && 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped';

function node(store: TestStore, asynchronous: boolean): ReturnType<typeof createCallCheck> {
  const kek = new KeyRing(KeyEncryptionKey.generate());
  const now = (): number => 1_800_000_000_000;
  return createCallCheck({
    config: loadConfig({
      file: null,
      env: { WRIT_KEK: randomBytes(32).toString('base64') },
      overrides: { 'dpop.replayAsynchronousCommit': asynchronous },
    }),
    db: store.db,
    dialect: store.dialect,
    dedicated: store.dedicated?.bind(store),
    kek,
    issuer: 'http://127.0.0.1:1',
    keys: new SigningKeys({ db: store.db, kek, now }),
    revocations: new RevocationSet(),
    siblings: undefined,
    now,
  });
}

for (const asynchronous of [false, true])
  test(
    `PostgreSQL, replayAsynchronousCommit ${String(asynchronous)}: a proof seen by one node is a replay at another`,
    { skip },
    async () => {
      const store = await postgresKind.open();
      const a = node(store, asynchronous);
      const b = node(store, asynchronous);
      try {
        const exp = 1_800_000_060;
        assert.equal(await a.check.replay.checkAndStore('proof-1', exp), true);
        assert.equal(await b.check.replay.checkAndStore('proof-1', exp), false);
        assert.equal(await b.check.replay.checkAndStore('proof-2', exp), true);
        assert.equal(await a.check.replay.checkAndStore('proof-2', exp), false);
        // Closed, a node that remembers on connections of its own can no longer reach them (and refuses: fail closed);
        // one on the store's pool still can, since the pool is not its to close.
        await a.close();
        const after = Promise.resolve().then(() => a.check.replay.checkAndStore('proof-3', exp));
        if (asynchronous) await assert.rejects(after);
        else assert.equal(await after, true);
      } finally {
        await a.close();
        await b.close();
        await store.dispose();
      }
    },
  );
