/** Signing keys at rest and on schedule: sealed in the store, rotated when due, the old key kept published. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyEncryptionKey } from '../../src/crypto/index.js';
import { SigningKeys } from '../../src/token/index.js';
import { describeEachStore } from '../helpers/stores.js';

describeEachStore('signing keys', (kind) => {
  test('private keys are sealed at rest; scheduled rotation happens only when due and keeps the old key published', async () => {
    const store = await kind.open();
    try {
      let now = Date.now();
      const kek = KeyEncryptionKey.generate();
      const keys = new SigningKeys({ db: store.db, kek, now: () => now });
      await keys.init('ES256');
      const first = keys.list()[0]?.kid;
      const rows = await store.db.selectFrom('signing_keys').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.doesNotMatch(rows[0]?.private_envelope ?? '', /"d"\s*:/, 'the private JWK is not stored in clear');
      assert.equal(await keys.rotateIfDue(24 * 3600_000, 3600_000), undefined, 'not due yet');
      now += 25 * 3600_000;
      const second = await keys.rotateIfDue(24 * 3600_000, 3600_000);
      assert.ok(second !== undefined && second !== first);
      assert.deepEqual(
        keys.list().map((k) => [k.kid, k.active]),
        [
          [second, true],
          [first, false],
        ],
      );
      now += 2 * 3600_000;
      const reopened = new SigningKeys({ db: store.db, kek, now: () => now });
      await reopened.init('ES256');
      assert.deepEqual(
        reopened.list().map((k) => k.kid),
        [second],
        'a retired key leaves the JWKS once its tokens have expired',
      );
      await assert.rejects(
        new SigningKeys({ db: store.db, kek: KeyEncryptionKey.generate(), now: () => now }).init('ES256'),
        /KEK|key/i,
        'another KEK cannot open the keys',
      );
    } finally {
      await store.dispose();
    }
  });
});
