/** Signing keys at rest and on schedule: sealed in the store, rotated when due, the old key kept published. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { KeyEncryptionKey } from '../../src/crypto/index.js';
import { SigningKeys } from '../../src/token/index.js';
import { openStore } from '../../src/storage/index.js';
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

  test('control nodes starting at once on an empty store make exactly one first key, and all use it', async () => {
    const store = await kind.open();
    try {
      const kek = KeyEncryptionKey.generate();
      const nodes = Array.from({ length: 4 }, () => new SigningKeys({ db: store.db, kek }));
      const made = await Promise.all(nodes.map((k) => k.init('ES256')));
      assert.equal(made.filter(Boolean).length, 1, 'one of them made it');
      const active = await store.db.selectFrom('signing_keys').select('kid').where('status', '=', 'active').execute();
      assert.equal(active.length, 1);
      for (const k of nodes) assert.deepEqual(k.list(), [{ kid: active[0]?.kid, alg: 'ES256', active: true }]);
      // And the store itself refuses a second active key, whoever writes it.
      const row = await store.db.selectFrom('signing_keys').selectAll().executeTakeFirstOrThrow();
      await assert.rejects(
        store.db
          .insertInto('signing_keys')
          .values({ ...row, kid: 'another' })
          .execute(),
      );
    } finally {
      await store.dispose();
    }
  });
});

test('a task token has the bytes jose SignJWT wrote (header members in order, the claims as JSON.stringify gives them) and verifies with jose, for every signing algorithm', async () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    const store = await openStore({});
    try {
      const keys = new SigningKeys({ db: store.db, kek: KeyEncryptionKey.generate() });
      await keys.init(alg);
      const kid = keys.list()[0]?.kid as string;
      const claims = {
        iss: 'https://writ.example',
        sub: 'dev:alice',
        aud: 'https://writ.example/r/api',
        client_id: 'a1',
        act: { sub: 'a1' },
        authorization_details: [
          { type: 'http' as const, locations: ['https://writ.example/r/api'], actions: ['GET' as const], paths: ['/v1/**'] },
        ],
        cnf: { jkt: 'x'.repeat(43) },
        jti: 'tok_1',
        iat: 1_764_000_000,
        exp: 1_764_000_600,
        purpose: 'é — ünïcode',
        task_id: 'task_1',
        task_chain: [],
      };
      const token = await keys.sign(claims);
      const [h, p] = token.split('.');
      assert.equal(Buffer.from(h as string, 'base64url').toString(), JSON.stringify({ alg, typ: 'at+jwt', kid }));
      assert.equal(p, Buffer.from(JSON.stringify(claims)).toString('base64url'));
      const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
        algorithms: [alg],
        currentDate: new Date(1_764_000_001_000),
      });
      assert.deepEqual(payload, claims);
      await assert.rejects(keys.sign({ ...claims, exp: Number.NaN }), /finite/);
    } finally {
      await store.close();
    }
  }
});
