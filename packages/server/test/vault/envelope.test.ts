import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { CryptoError, KeyEncryptionKey, openEnvelope, sealEnvelope, type Envelope } from '../../src/crypto/index.js';

/**
 * Known-answer vector for envelope v1, checked in as data: stored envelopes must keep opening after any refactor.
 * KEK = bytes 0x00..0x1f, id "kek-test", AAD "secret:demo:1", plaintext "writ envelope v1".
 */
const VECTOR = {
  kekBase64: Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64'),
  kekId: 'kek-test',
  aad: 'secret:demo:1',
  plaintext: 'writ envelope v1',
  envelope:
    '{"v":1,"kekId":"kek-test","wrappedKey":"xkn70TkIjAlrhuQpnLznDhtWpgZ_S8fdCW42QFIx1WI","iv":"iPbLE5SJvGm1b1Nk","tag":"bTGMc_qD4wJAaUFexvzR0w","keyIv":"2_ttEUBKlfaABp6A","keyTag":"YWFIZT66cVYxpKvJBjNCAg","ciphertext":"PN-yiCvjff2SZdh2Viz2qA"}',
};

const kek = KeyEncryptionKey.fromBase64(VECTOR.kekId, VECTOR.kekBase64);

test('envelope v1 known-answer vector opens, and an independent decryption per the documented format agrees', () => {
  assert.equal(openEnvelope(kek, VECTOR.envelope, VECTOR.aad).toString('utf8'), VECTOR.plaintext);
  // Re-derive by hand from the format description, without the module: AES-256-GCM key unwrap, then data.
  const e = JSON.parse(VECTOR.envelope) as Envelope;
  const b = (s: string): Buffer => Buffer.from(s, 'base64url');
  const unwrap = createDecipheriv('aes-256-gcm', Buffer.from(VECTOR.kekBase64, 'base64'), b(e.keyIv));
  unwrap.setAAD(Buffer.from(`writ-envelope/v1 dek ${e.kekId}`));
  unwrap.setAuthTag(b(e.keyTag));
  const dek = Buffer.concat([unwrap.update(b(e.wrappedKey)), unwrap.final()]);
  const d = createDecipheriv('aes-256-gcm', dek, b(e.iv));
  d.setAAD(Buffer.from(`writ-envelope/v1 data ${VECTOR.aad}`));
  d.setAuthTag(b(e.tag));
  assert.equal(Buffer.concat([d.update(b(e.ciphertext)), d.final()]).toString('utf8'), VECTOR.plaintext);
});

test('seal then open round-trips; two seals of the same plaintext share nothing', () => {
  const a = sealEnvelope(kek, Buffer.from('same'), 'secret:x:1');
  const b = sealEnvelope(kek, Buffer.from('same'), 'secret:x:1');
  assert.notEqual(a, b);
  const ea = JSON.parse(a) as Envelope;
  const eb = JSON.parse(b) as Envelope;
  for (const f of ['wrappedKey', 'iv', 'tag', 'keyIv', 'keyTag', 'ciphertext'] as const) assert.notEqual(ea[f], eb[f], f);
  assert.equal(openEnvelope(kek, a, 'secret:x:1').toString(), 'same');
  assert.equal(openEnvelope(kek, b, 'secret:x:1').toString(), 'same');
  assert.equal(openEnvelope(kek, sealEnvelope(kek, Buffer.alloc(0), 'secret:x:1'), 'secret:x:1').length, 0);
  assert.ok(!a.includes(Buffer.from('same').toString('base64url')));
});

test('tampering with any field fails', () => {
  const sealed = sealEnvelope(kek, Buffer.from('the plaintext, long enough to span two blocks'), 'secret:x:1');
  const env = JSON.parse(sealed) as Record<string, unknown>;
  for (const field of ['wrappedKey', 'iv', 'tag', 'keyIv', 'keyTag', 'ciphertext'] as const) {
    const bytes = Buffer.from(env[field] as string, 'base64url');
    for (const at of [0, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = (flipped[at] as number) ^ 0x01;
      const t = JSON.stringify({ ...env, [field]: flipped.toString('base64url') });
      assert.throws(() => openEnvelope(kek, t, 'secret:x:1'), CryptoError, `${field}[${at}]`);
    }
    // A different, non-canonical spelling of the same bytes is refused too: the stored text is what opens.
    const text = env[field] as string;
    if (text.length % 4 !== 0) {
      const last = text.at(-1) as string;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const twin = alphabet[alphabet.indexOf(last) ^ 1] as string;
      assert.throws(() => openEnvelope(kek, JSON.stringify({ ...env, [field]: text.slice(0, -1) + twin }), 'secret:x:1'), CryptoError);
    }
  }
  assert.throws(() => openEnvelope(kek, JSON.stringify({ ...env, v: 2 }), 'secret:x:1'), { code: 'ERR_CRYPTO_ENVELOPE_MALFORMED' });
  assert.throws(() => openEnvelope(kek, JSON.stringify({ ...env, kekId: 'kek-2' }), 'secret:x:1'), { code: 'ERR_CRYPTO_KEK_UNKNOWN' });
  assert.throws(() => openEnvelope(kek, JSON.stringify({ ...env, extra: 1 }), 'secret:x:1'), { code: 'ERR_CRYPTO_ENVELOPE_MALFORMED' });
  assert.throws(() => openEnvelope(kek, sealed.slice(0, -2), 'secret:x:1'), { code: 'ERR_CRYPTO_ENVELOPE_MALFORMED' });
  // The kekId is bound into the key wrap: relabelled under a KEK that has that id, the wrap no longer opens.
  const relabelled = KeyEncryptionKey.fromBase64('kek-2', VECTOR.kekBase64);
  assert.throws(() => openEnvelope(relabelled, JSON.stringify({ ...env, kekId: 'kek-2' }), 'secret:x:1'), {
    code: 'ERR_CRYPTO_UNWRAP_FAILED',
  });
});

test('the wrong KEK fails at the key unwrap, with a message that says so', () => {
  const sealed = sealEnvelope(kek, Buffer.from('v'), 'secret:x:1');
  const other = KeyEncryptionKey.generate(VECTOR.kekId);
  assert.throws(
    () => openEnvelope(other, sealed, 'secret:x:1'),
    (err: unknown) => {
      assert.ok(err instanceof CryptoError);
      assert.equal(err.code, 'ERR_CRYPTO_UNWRAP_FAILED');
      assert.match(err.message, /KEK "kek-test" is not the one/);
      return true;
    },
  );
  // During a rotation the old KEK is still accepted, picked by id.
  const next = KeyEncryptionKey.generate('kek-next');
  assert.equal(openEnvelope([next, kek], sealed, 'secret:x:1').toString(), 'v');
});

test('the wrong AAD fails: a ciphertext cannot move to another record or version', () => {
  const sealed = sealEnvelope(kek, Buffer.from('v'), 'secret:x:1');
  for (const aad of ['secret:x:2', 'secret:y:1', 'signing-key:x']) {
    assert.throws(() => openEnvelope(kek, sealed, aad), { code: 'ERR_CRYPTO_DECRYPT_FAILED' });
  }
  assert.throws(() => sealEnvelope(kek, Buffer.from('v'), ''), TypeError);
  assert.throws(() => openEnvelope(kek, sealed, ''), TypeError);
});

test('KeyEncryptionKey: exactly 32 bytes of base64, clear errors, never printed', () => {
  assert.throws(() => KeyEncryptionKey.fromBase64('k', Buffer.alloc(31).toString('base64')), {
    code: 'ERR_CRYPTO_KEK_INVALID',
    message: /exactly 32 bytes/,
  });
  assert.throws(() => KeyEncryptionKey.fromBase64('k', Buffer.alloc(33).toString('base64')), { code: 'ERR_CRYPTO_KEK_INVALID' });
  assert.throws(() => KeyEncryptionKey.fromBase64('k', 'not base64!!'), { code: 'ERR_CRYPTO_KEK_INVALID', message: /not base64/ });
  assert.throws(() => KeyEncryptionKey.fromBase64('k', ''), { code: 'ERR_CRYPTO_KEK_INVALID' });
  assert.throws(() => KeyEncryptionKey.fromBase64('bad id', VECTOR.kekBase64), TypeError);
  const url = KeyEncryptionKey.fromBase64('k', Buffer.alloc(32, 0xfb).toString('base64url'));
  const std = KeyEncryptionKey.fromBase64('k', Buffer.alloc(32, 0xfb).toString('base64'));
  assert.equal(openEnvelope(std, sealEnvelope(url, Buffer.from('x'), 'a:1'), 'a:1').toString(), 'x');
  const g = KeyEncryptionKey.generate('kek-9');
  assert.equal(g.id, 'kek-9');
  const b64 = g.export().reveal();
  assert.equal(Buffer.from(b64, 'base64').length, 32);
  for (const r of [String(g), JSON.stringify(g), inspect(g, { showHidden: true }), String(g.export())]) assert.ok(!r.includes(b64), r);
});
