import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { CryptoError, KeyEncryptionKey, SecretValue } from '../../src/crypto/index.js';
import { AdminError } from '../../src/errors/index.js';
import { openStore } from '../../src/storage/index.js';
import { createVault, VaultError } from '../../src/vault/index.js';
import { describeEachStore } from '../helpers/stores.js';

const PLAIN = 'ghp_PLAINTEXT_0123456789_secret';
const PLAIN2 = 'ghp_ROTATED_9876543210_secret';

describeEachStore('vault', (kind) => {
  test('put creates version 1, each later put adds a version; the current one is served', async () => {
    const store = await kind.open();
    try {
      const vault = createVault({ db: store.db, kek: KeyEncryptionKey.generate() });
      const v1 = await vault.putSecret('github', new SecretValue(PLAIN), 'CI bot token');
      assert.equal(v1.current_version, 1);
      assert.equal((await vault.getSecretValue('github')).reveal(), PLAIN);
      const v2 = await vault.putSecret('github', new SecretValue(PLAIN2));
      assert.equal(v2.current_version, 2);
      assert.equal(v2.description, 'CI bot token', 'description kept when not given');
      assert.equal((await vault.getSecretValue('github')).reveal(), PLAIN2, 'put invalidates the cache');
      const v3 = await vault.putSecret('github', new SecretValue('third'), 'renamed');
      assert.deepEqual(
        v3.versions.map((v) => v.version),
        [1, 2, 3],
      );
      assert.equal(v3.description, 'renamed');
      assert.ok(v3.versions.every((v) => v.kek_id === 'kek-1'));
    } finally {
      await store.dispose();
    }
  });

  test('concurrent puts get distinct, consecutive versions', async () => {
    const store = await kind.open();
    try {
      const vault = createVault({ db: store.db, kek: KeyEncryptionKey.generate() });
      const metas = await Promise.all([1, 2, 3, 4, 5].map((i) => vault.putSecret('busy', new SecretValue(`value-${i}`))));
      assert.deepEqual(metas.map((m) => m.current_version).sort(), [1, 2, 3, 4, 5]);
      const d = await vault.describeSecret('busy');
      assert.equal(d.current_version, 5);
      assert.equal(d.versions.length, 5);
    } finally {
      await store.dispose();
    }
  });

  test('write-only: no API output contains the value, and the surface has no other way out', async () => {
    const store = await kind.open();
    try {
      const vault = createVault({ db: store.db, kek: KeyEncryptionKey.generate() });
      const put = await vault.putSecret('stripe', new SecretValue(PLAIN), 'payments');
      const outputs = [put, await vault.describeSecret('stripe'), await vault.listSecrets()];
      for (const o of outputs) {
        const text = JSON.stringify(o);
        assert.ok(!text.includes(PLAIN), text);
        assert.ok(!text.includes('envelope') && !text.includes('ciphertext'), text);
      }
      // Pin the surface: adding a method that could return a value must be a visible decision.
      assert.deepEqual(Object.keys(vault).sort(), [
        'deleteSecret',
        'describeSecret',
        'getSecretEntry',
        'getSecretValue',
        'invalidate',
        'listSecrets',
        'putSecret',
      ]);
      // Even the internal read hands out a value that cannot print.
      const v = await vault.getSecretValue('stripe');
      assert.ok(!JSON.stringify({ v }).includes(PLAIN));
      await assert.rejects(vault.putSecret('stripe', PLAIN as unknown as SecretValue), TypeError);
      await assert.rejects(vault.putSecret('stripe', new SecretValue('')), TypeError);
      await assert.rejects(vault.putSecret('bad id', new SecretValue('x')), TypeError);
    } finally {
      await store.dispose();
    }
  });

  test('the database holds ciphertext only', async () => {
    const store = await kind.open();
    try {
      const vault = createVault({ db: store.db, kek: KeyEncryptionKey.generate() });
      await vault.putSecret('s', new SecretValue(PLAIN));
      await vault.putSecret('s', new SecretValue(PLAIN2));
      const dump = JSON.stringify([
        await store.db.selectFrom('secrets').selectAll().execute(),
        await store.db.selectFrom('secret_versions').selectAll().execute(),
      ]);
      for (const p of [PLAIN, PLAIN2]) {
        for (const enc of [p, Buffer.from(p).toString('base64'), Buffer.from(p).toString('base64url'), Buffer.from(p).toString('hex')])
          assert.ok(!dump.includes(enc));
      }
      if (kind.name === 'sqlite') {
        // The bytes on disk too, WAL included.
        const path = store.reopenOptions.sqlitePath as string;
        for (const f of readdirSync(dirname(path))) {
          const bytes = readFileSync(join(dirname(path), f));
          assert.equal(bytes.indexOf(PLAIN), -1, f);
          assert.equal(bytes.indexOf(PLAIN2), -1, f);
        }
      }
    } finally {
      await store.dispose();
    }
  });

  test('values decrypt after reopening the store; the wrong KEK fails clearly', async () => {
    const store = await kind.open();
    try {
      const kekB64 = KeyEncryptionKey.generate().export().reveal();
      await createVault({ db: store.db, kek: KeyEncryptionKey.fromBase64('kek-1', kekB64) }).putSecret('s', new SecretValue(PLAIN));
      const again = await openStore(store.reopenOptions);
      try {
        assert.equal(
          (await createVault({ db: again.db, kek: KeyEncryptionKey.fromBase64('kek-1', kekB64) }).getSecretValue('s')).reveal(),
          PLAIN,
        );
        const wrongBytes = createVault({ db: again.db, kek: KeyEncryptionKey.generate('kek-1') });
        await assert.rejects(wrongBytes.getSecretValue('s'), (err: unknown) => {
          assert.ok(err instanceof CryptoError);
          assert.equal(err.code, 'ERR_CRYPTO_UNWRAP_FAILED');
          assert.match(err.message, /configured KEK "kek-1" is not the one/);
          return true;
        });
        const wrongId = createVault({ db: again.db, kek: KeyEncryptionKey.generate('kek-2') });
        await assert.rejects(wrongId.getSecretValue('s'), { code: 'ERR_CRYPTO_KEK_UNKNOWN', message: /sealed under KEK "kek-1"/ });
        // Rotation: a new KEK for new versions, the old one still opens old versions.
        const rotated = createVault({
          db: again.db,
          kek: KeyEncryptionKey.generate('kek-2'),
          previousKeks: [KeyEncryptionKey.fromBase64('kek-1', kekB64)],
        });
        assert.equal((await rotated.getSecretValue('s')).reveal(), PLAIN);
        const meta = await rotated.putSecret('s', new SecretValue(PLAIN2));
        assert.deepEqual(
          meta.versions.map((v) => v.kek_id),
          ['kek-1', 'kek-2'],
        );
        assert.equal((await rotated.getSecretValue('s')).reveal(), PLAIN2);
      } finally {
        await again.close();
      }
    } finally {
      await store.dispose();
    }
  });

  test('a ciphertext moved to another secret or version does not open', async () => {
    const store = await kind.open();
    try {
      const vault = createVault({ db: store.db, kek: KeyEncryptionKey.generate(), cacheTtlMs: 0 });
      await vault.putSecret('a', new SecretValue('value-a'));
      await vault.putSecret('b', new SecretValue('value-b'));
      await vault.putSecret('b', new SecretValue('value-b2'));
      const envA = (await store.db.selectFrom('secret_versions').select('envelope').where('secret_id', '=', 'a').executeTakeFirstOrThrow())
        .envelope;
      const envB1 = (
        await store.db
          .selectFrom('secret_versions')
          .select('envelope')
          .where('secret_id', '=', 'b')
          .where('version', '=', 1)
          .executeTakeFirstOrThrow()
      ).envelope;
      await store.db.updateTable('secret_versions').set({ envelope: envA }).where('secret_id', '=', 'b').where('version', '=', 2).execute();
      await assert.rejects(vault.getSecretValue('b'), { code: 'ERR_CRYPTO_DECRYPT_FAILED' });
      await store.db
        .updateTable('secret_versions')
        .set({ envelope: envB1 })
        .where('secret_id', '=', 'b')
        .where('version', '=', 2)
        .execute();
      await assert.rejects(vault.getSecretValue('b'), { code: 'ERR_CRYPTO_DECRYPT_FAILED' }, 'rollback to an old version is refused too');
    } finally {
      await store.dispose();
    }
  });

  test('the hot-path cache serves from memory and is invalidated on put, delete and invalidate()', async () => {
    const store = await kind.open();
    try {
      const vault = createVault({ db: store.db, kek: KeyEncryptionKey.generate() });
      await vault.putSecret('k', new SecretValue('one'));
      const [a, b] = await Promise.all([vault.getSecretValue('k'), vault.getSecretValue('k')]);
      assert.equal(a, b, 'concurrent cold reads share one decryption');
      // Break the stored row behind the vault's back: the cached value is still served ...
      await store.db.updateTable('secret_versions').set({ envelope: '{}' }).where('secret_id', '=', 'k').execute();
      assert.equal((await vault.getSecretValue('k')).reveal(), 'one');
      // ... until the cache is told (another node changed it), when the store is read again.
      vault.invalidate('k');
      await assert.rejects(vault.getSecretValue('k'), { code: 'ERR_CRYPTO_ENVELOPE_MALFORMED' });
      await vault.putSecret('k', new SecretValue('two'));
      assert.equal((await vault.getSecretValue('k')).reveal(), 'two');
      await vault.deleteSecret('k');
      await assert.rejects(
        vault.getSecretValue('k'),
        (err: unknown) => err instanceof VaultError && err.code === 'ERR_VAULT_SECRET_UNKNOWN',
      );
      assert.equal((await store.db.selectFrom('secret_versions').select('version').where('secret_id', '=', 'k').execute()).length, 0);
    } finally {
      await store.dispose();
    }
  });

  test('describe, list and delete: not found, and refused while a resource injects the secret', async () => {
    const store = await kind.open();
    try {
      const vault = createVault({ db: store.db, kek: KeyEncryptionKey.generate() });
      await assert.rejects(vault.describeSecret('nope'), (err: unknown) => err instanceof AdminError && err.code === 'ERR_ADMIN_NOT_FOUND');
      await assert.rejects(vault.deleteSecret('nope'), (err: unknown) => err instanceof AdminError && err.code === 'ERR_ADMIN_NOT_FOUND');
      await vault.putSecret('b-key', new SecretValue('x'), 'B');
      await vault.putSecret('a-key', new SecretValue('y'), 'A');
      assert.deepEqual(
        (await vault.listSecrets()).map((s) => [s.id, s.description, s.current_version]),
        [
          ['a-key', 'A', 1],
          ['b-key', 'B', 1],
        ],
      );
      const t = Date.now();
      await sql`INSERT INTO resources (id, kind, base_url, secret_id, inject, description, created_at, updated_at)
                VALUES ('api', 'http', 'https://api.example', 'a-key', '{"mode":"bearer"}', '', ${t}, ${t})`.execute(store.db);
      await assert.rejects(vault.deleteSecret('a-key'), (err: unknown) => err instanceof AdminError && err.code === 'ERR_ADMIN_CONFLICT');
      assert.equal((await vault.describeSecret('a-key')).current_version, 1);
      await vault.deleteSecret('b-key');
      assert.deepEqual(
        (await vault.listSecrets()).map((s) => s.id),
        ['a-key'],
      );
    } finally {
      await store.dispose();
    }
  });
});
