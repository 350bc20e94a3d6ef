/**
 * The DPoP replay cache shared through the store (RFC 9449 §11.1 across nodes): two caches on one database stand for
 * two nodes. A proof seen by one is a replay at the other; an entry past its expiry admits the key again; a store
 * that fails refuses (never "fresh"); pruning drops only what can no longer catch a replay. And through the real
 * verifier: the same proof sent to two nodes is accepted once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDpopProof, generateDpopKey } from '@writ/agent';
import { verifyDpopProof } from '@writ/verify/internal';
import { SharedReplayCache } from '../../src/dpop/index.js';
import { describeEachStore } from '../helpers/stores.js';

describeEachStore('shared DPoP replay cache', (kind) => {
  test('a key stored by one node is a replay at another, until it expires', async () => {
    const store = await kind.open();
    try {
      let now = 1_800_000_000;
      const a = new SharedReplayCache({ db: store.db, maxLocalEntries: 1000, now: () => now });
      const b = new SharedReplayCache({ db: store.db, maxLocalEntries: 1000, now: () => now });
      assert.equal(await a.checkAndStore('k1', now + 60), true);
      assert.equal(await a.checkAndStore('k1', now + 60), false, 'same node');
      assert.equal(await b.checkAndStore('k1', now + 60), false, 'other node');
      assert.equal(await b.checkAndStore('k2', now + 60), true);
      assert.equal(await a.checkAndStore('k2', now + 60), false);
      now += 61;
      // Expired everywhere: the key may be used again (a proof that old is refused by its iat anyway).
      const c = new SharedReplayCache({ db: store.db, maxLocalEntries: 1000, now: () => now });
      assert.equal(await c.checkAndStore('k1', now + 60), true);
      assert.equal(await a.checkAndStore('k1', now + 60), false);
      await c.prune();
      const left = await store.db.selectFrom('dpop_replay').select('key').orderBy('key').execute();
      assert.deepEqual(
        left.map((r) => r.key),
        ['k1'],
        'k2 expired and was pruned; k1 is live again',
      );
    } finally {
      await store.dispose();
    }
  });

  test('many nodes racing on one key: exactly one wins', async () => {
    const store = await kind.open();
    try {
      const now = 1_800_000_000;
      const nodes = Array.from({ length: 8 }, () => new SharedReplayCache({ db: store.db, maxLocalEntries: 10, now: () => now }));
      const results = await Promise.all(nodes.map((n) => n.checkAndStore('race', now + 60)));
      assert.equal(results.filter(Boolean).length, 1);
    } finally {
      await store.dispose();
    }
  });

  test('a failing store refuses: the error surfaces, nothing is taken as fresh', async () => {
    const store = await kind.open();
    const cache = new SharedReplayCache({ db: store.db, maxLocalEntries: 10, now: () => 1_800_000_000 });
    await store.dispose();
    await assert.rejects(Promise.resolve().then(() => cache.checkAndStore('k', 1_800_000_060)));
  });

  test('through the verifier: one proof, two nodes, accepted once', async () => {
    const store = await kind.open();
    try {
      const key = await generateDpopKey();
      const url = 'https://writ.example/r/api/v1/x';
      const proof = await createDpopProof(key, { htm: 'GET', htu: url });
      const nowSec = Math.floor(Date.now() / 1000);
      const opts = (replay: SharedReplayCache) => ({
        method: 'GET',
        url,
        replay,
        algorithms: ['ES256'],
        maxAgeSeconds: 60,
        clockSkewSeconds: 5,
        now: () => nowSec,
      });
      const node1 = new SharedReplayCache({ db: store.db, maxLocalEntries: 10, now: () => nowSec });
      const node2 = new SharedReplayCache({ db: store.db, maxLocalEntries: 10, now: () => nowSec });
      assert.equal((await verifyDpopProof([proof], opts(node1))).jkt, key.jkt);
      await assert.rejects(verifyDpopProof([proof], opts(node2)), { code: 'ERR_DPOP_REPLAY' });
    } finally {
      await store.dispose();
    }
  });
});
