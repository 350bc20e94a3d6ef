/**
 * KEK rotation on every store, online: with the new KEK current and the old one still accepted, Writ serves from
 * envelopes of both; `rotate-kek` re-wraps every envelope (secrets, token signing keys, dedicated keys), survives
 * being interrupted, and reports what it could not move; afterwards the new KEK alone opens everything and the old
 * one alone opens nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { KeyEncryptionKey, KeyRing, sealEnvelope } from '../../src/crypto/index.js';
import { CHECKPOINT_KEY } from '../../src/audit/index.js';
import { dedicatedKeyEnvelopes } from '../../src/dedicated-keys/index.js';
import { SET_KEY, SSF_STREAM_ENVELOPES } from '../../src/ssf/index.js';
import { SIGNING_KEY_ENVELOPES } from '../../src/token/index.js';
import { rotateKek, SECRET_ENVELOPES, secretAad, type KekInventory, type KekRotationReport } from '../../src/vault/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }];
const COLUMNS = [SECRET_ENVELOPES, SIGNING_KEY_ENVELOPES, dedicatedKeyEnvelopes([SET_KEY, CHECKPOINT_KEY]), SSF_STREAM_ENVELOPES];

function under(inv: KekInventory, kekId: string): number {
  return inv.columns.reduce((n, c) => n + (c.byKek[kekId] ?? 0), 0);
}

describeEachStore('kek rotation', (kind) => {
  const h = useHarness(kind);
  const next = randomBytes(32).toString('base64');

  test('rotate-kek re-wraps everything online, resumes after an interruption, and retires the old KEK', async () => {
    const agent = await h.registerAgent('agent-a');
    for (let i = 0; i < 4; i++) await h.admin.put(`/secrets/extra-${i}`, { value: `extra-secret-value-${i}` });
    const before = await h.admin.get<KekInventory>('/vault/keks');
    assert.equal(before.current, 'kek-1');
    assert.equal(before.remaining, 0);
    const sealed = under(before, 'kek-1');
    assert.ok(sealed >= 6, `secrets, a signing key and the checkpoint key are sealed (${sealed})`);
    for (const name of ['secrets', 'token signing keys', 'dedicated signing keys'])
      assert.ok((before.columns.find((c) => c.name === name)?.byKek['kek-1'] ?? 0) > 0, name);

    // The new KEK current, the old one still accepted: both kinds of envelope open.
    const both = { WRIT_KEK: next, WRIT_KEK_ID: 'kek-2', WRIT_KEK_PREVIOUS: `kek-1:${h.kek}` };
    await h.restart({ env: both });
    const task = await h.startTask(agent, { details: READ });
    const served = async (): Promise<void> => {
      const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`);
      assert.equal(res.status, 200);
      assert.equal(h.upstream.requests.at(-1)?.headers.authorization, 'Bearer upstream-secret-value-1234567890');
    };
    await served();
    const fresh = await h.admin.put<{ versions: { kek_id: string }[] }>('/secrets/fresh', { value: 'fresh-secret-value' });
    assert.equal(fresh.versions[0]?.kek_id, 'kek-2', 'new versions are sealed under the current KEK');
    const mid = await h.admin.get<KekInventory>('/vault/keks');
    assert.equal(mid.current, 'kek-2');
    assert.equal(mid.remaining, sealed);

    // A version that does not open (tampered at rest): reported by row, never by value; the rest is not held up.
    const sealedBad = JSON.parse(
      sealEnvelope(KeyEncryptionKey.fromBase64('kek-1', h.kek), Buffer.from('tampered-value'), secretAad('broken', 1)),
    ) as { tag: string };
    // One character of the tag changed to another, so it is certain to differ.
    const bad = JSON.stringify({ ...sealedBad, tag: `${sealedBad.tag.startsWith('A') ? 'B' : 'A'}${sealedBad.tag.slice(1)}` });
    const t = Date.now();
    await h.store.db
      .insertInto('secrets')
      .values({ id: 'broken', current_version: 1, description: '', created_at: t, updated_at: t })
      .execute();
    await h.store.db
      .insertInto('secret_versions')
      .values({ secret_id: 'broken', version: 1, kek_id: 'kek-1', envelope: bad, created_at: t })
      .execute();

    // Interrupted after two rows: each row is moved on its own, so the store is consistent and Writ serves on.
    const ring = new KeyRing(KeyEncryptionKey.fromBase64('kek-2', next), [KeyEncryptionKey.fromBase64('kek-1', h.kek)]);
    const partial = await rotateKek(h.store.db, ring, COLUMNS, { limit: 2 });
    assert.equal(partial.rewrapped, 2);
    assert.equal(partial.remaining, sealed + 1 - 2);
    await served();

    const done = await h.admin.post<KekRotationReport>('/vault/rotate-kek', {});
    assert.equal(done.rewrapped, sealed - 2);
    assert.equal(done.remaining, 1, 'only the tampered row is left');
    assert.equal(done.failed.length, 1);
    assert.equal(done.failed[0]?.row, 'broken/1');
    assert.match(done.failed[0]?.code ?? '', /^ERR_CRYPTO_(DECRYPT|UNWRAP)_FAILED$/);
    assert.ok(!JSON.stringify(done).includes('tampered-value'));
    await h.store.db.deleteFrom('secret_versions').where('secret_id', '=', 'broken').execute();
    await h.store.db.deleteFrom('secrets').where('id', '=', 'broken').execute();
    const again = await h.admin.post<KekRotationReport>('/vault/rotate-kek', {});
    assert.deepEqual([again.rewrapped, again.remaining, again.failed.length], [0, 0, 0], 'a second run finds nothing to do');
    const rows = await h.store.db.selectFrom('secret_versions').select(['kek_id', 'envelope']).execute();
    for (const r of rows) assert.equal(r.kek_id, JSON.parse(r.envelope).kekId, 'the kek_id column follows the envelope');
    const audit = await h.admin.get<{ type: string; action?: string; reason: string }[]>('/audit?limit=1000');
    assert.ok(audit.some((e) => e.type === 'admin.change' && e.action === 'vault.rotate-kek' && e.reason === 'kek.rotated'));

    // The new KEK alone: secrets inject, the signing key still signs, old tokens still verify.
    await h.restart({ env: { WRIT_KEK: next, WRIT_KEK_ID: 'kek-2' } });
    await served();
    const later = await h.startTask(agent, { details: READ });
    assert.equal((await later.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);

    // The old KEK alone opens nothing any more.
    await assert.rejects(h.restart({ env: { WRIT_KEK: h.kek, WRIT_KEK_ID: 'kek-1' } }), { code: 'ERR_CRYPTO_KEK_UNKNOWN' });
    await h.restart({ env: { WRIT_KEK: next, WRIT_KEK_ID: 'kek-2' } });
  });

  test('the current and a previous KEK must have different ids', async () => {
    const k = KeyEncryptionKey.generate('same');
    assert.throws(() => new KeyRing(k, [KeyEncryptionKey.generate('same')]), /used twice/);
  });
});
