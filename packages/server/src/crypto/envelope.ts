/**
 * Envelope encryption, AES-256-GCM (NIST SP 800-38D) twice: a fresh random 256-bit data key per seal encrypts the
 * data; the KEK wraps the data key. Both layers carry their own random 96-bit IV and 128-bit tag.
 *
 * AAD binds each layer to where it belongs:
 * - the key wrap to `writ-envelope/v1 dek <kekId>`, so editing the envelope's `kekId` breaks it;
 * - the data to `writ-envelope/v1 data <aad>`, where `aad` names the record (`secret:<id>:<version>`,
 *   `signing-key:<kid>`), so a ciphertext copied to another row or version does not open there.
 *
 * The envelope is JSON with base64url fields: {v, kekId, wrappedKey, iv, tag, keyIv, keyTag, ciphertext}.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptoError } from './crypto-error.js';
import { kekBytes, KeyRing, type KeyEncryptionKey } from './key-encryption-key.js';

/** What an envelope may be opened with: one KEK, several, or the ring of the current KEK and those being rotated out. */
export type Keks = KeyEncryptionKey | readonly KeyEncryptionKey[] | KeyRing;

export interface Envelope {
  v: 1;
  kekId: string;
  /** The data key, encrypted under the KEK (32 bytes). */
  wrappedKey: string;
  /** IV (12 bytes) and tag (16 bytes) of the data encryption. */
  iv: string;
  tag: string;
  /** IV and tag of the key wrap. */
  keyIv: string;
  keyTag: string;
  ciphertext: string;
}

const ALG = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const B64URL = /^[A-Za-z0-9_-]*$/;
const FIELDS = ['v', 'kekId', 'wrappedKey', 'iv', 'tag', 'keyIv', 'keyTag', 'ciphertext'] as const;

/**
 * Encrypts `plaintext` for the record named by `aad`; returns the envelope as a JSON string for a TEXT column.
 *
 * @example
 * const env = sealEnvelope(kek, Buffer.from('s3cret'), 'secret:github:3');
 * openEnvelope(kek, env, 'secret:github:3').toString(); // 's3cret'
 * openEnvelope(kek, env, 'secret:github:4'); // throws CryptoError ERR_CRYPTO_DECRYPT_FAILED
 */
export function sealEnvelope(keks: KeyEncryptionKey | KeyRing, plaintext: Uint8Array, aad: string): string {
  checkAad(aad);
  const kek = keks instanceof KeyRing ? keks.current : keks;
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('sealEnvelope: plaintext must be a Buffer or Uint8Array');
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALG, dataKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(dataAad(aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();

    const { wrappedKey, keyIv, keyTag } = wrapDataKey(kek, dataKey);
    const envelope: Envelope = {
      v: 1,
      kekId: kek.id,
      wrappedKey,
      iv: iv.toString('base64url'),
      tag: tag.toString('base64url'),
      keyIv,
      keyTag,
      ciphertext: ciphertext.toString('base64url'),
    };
    return JSON.stringify(envelope);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Opens an envelope sealed for `aad`. `keks` may list several KEKs (during a rotation); the envelope's `kekId`
 * picks one. Every failure is a `CryptoError` with a fixed message; nothing about the key or data leaks into it.
 */
export function openEnvelope(keks: Keks, envelope: string, aad: string): Buffer {
  checkAad(aad);
  const env = parseEnvelope(envelope);
  const dataKey = unwrapDataKey(keks, env);
  try {
    return decryptData(env, dataKey, aad);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * The same envelope with its data key wrapped under the ring's current KEK (KEK rotation): the data and its IV and tag
 * are kept; only the key wrap changes. The data is opened first, so a tampered or misplaced envelope is refused rather
 * than carried over. Returns undefined when the envelope is already under the current KEK.
 *
 * @example
 * const ring = new KeyRing(newKek, [oldKek]);
 * const moved = rewrapEnvelope(ring, row.envelope, secretAad(id, version)); // undefined if nothing to do
 */
export function rewrapEnvelope(ring: KeyRing, envelope: string, aad: string): string | undefined {
  checkAad(aad);
  const env = parseEnvelope(envelope);
  if (env.kekId === ring.current.id) return undefined;
  const dataKey = unwrapDataKey(ring, env);
  try {
    decryptData(env, dataKey, aad).fill(0);
    const wrapped = wrapDataKey(ring.current, dataKey);
    const moved: Envelope = { ...env, kekId: ring.current.id, ...wrapped };
    return JSON.stringify(moved);
  } finally {
    dataKey.fill(0);
  }
}

function unwrapDataKey(keks: Keks, env: Envelope): Buffer {
  const list =
    keks instanceof KeyRing ? keks.accepted : Array.isArray(keks) ? (keks as readonly KeyEncryptionKey[]) : [keks as KeyEncryptionKey];
  const kek = list.find((k) => k.id === env.kekId);
  if (kek === undefined) {
    throw new CryptoError(
      'ERR_CRYPTO_KEK_UNKNOWN',
      `envelope was sealed under KEK "${env.kekId}", but the configured KEK is ${list.map((k) => `"${k.id}"`).join(', ') || 'none'}`,
    );
  }
  try {
    const unwrap = createDecipheriv(ALG, kekBytes(kek), b64(env.keyIv), { authTagLength: TAG_BYTES });
    unwrap.setAAD(wrapAad(env.kekId));
    unwrap.setAuthTag(b64(env.keyTag));
    return Buffer.concat([unwrap.update(b64(env.wrappedKey)), unwrap.final()]);
  } catch (err) {
    throw new CryptoError(
      'ERR_CRYPTO_UNWRAP_FAILED',
      `data key unwrap failed: the configured KEK "${kek.id}" is not the one this envelope was sealed with, or the envelope was altered`,
      { cause: err },
    );
  }
}

function wrapDataKey(kek: KeyEncryptionKey, dataKey: Buffer): Pick<Envelope, 'wrappedKey' | 'keyIv' | 'keyTag'> {
  const keyIv = randomBytes(IV_BYTES);
  const wrap = createCipheriv(ALG, kekBytes(kek), keyIv, { authTagLength: TAG_BYTES });
  wrap.setAAD(wrapAad(kek.id));
  const wrappedKey = Buffer.concat([wrap.update(dataKey), wrap.final()]);
  return {
    wrappedKey: wrappedKey.toString('base64url'),
    keyIv: keyIv.toString('base64url'),
    keyTag: wrap.getAuthTag().toString('base64url'),
  };
}

function decryptData(env: Envelope, dataKey: Buffer, aad: string): Buffer {
  try {
    const decipher = createDecipheriv(ALG, dataKey, b64(env.iv), { authTagLength: TAG_BYTES });
    decipher.setAAD(dataAad(aad));
    decipher.setAuthTag(b64(env.tag));
    return Buffer.concat([decipher.update(b64(env.ciphertext)), decipher.final()]);
  } catch (err) {
    throw new CryptoError(
      'ERR_CRYPTO_DECRYPT_FAILED',
      'envelope decryption failed: the ciphertext was altered or belongs to another record',
      { cause: err },
    );
  }
}

/** The KEK id an envelope names, without opening it (for rotation reports). */
export function envelopeKekId(envelope: string): string {
  return parseEnvelope(envelope).kekId;
}

function parseEnvelope(text: string): Envelope {
  const malformed = (why: string): CryptoError => new CryptoError('ERR_CRYPTO_ENVELOPE_MALFORMED', `malformed envelope: ${why}`);
  if (typeof text !== 'string') throw new TypeError('openEnvelope: envelope must be a string');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw malformed('not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed('not an object');
  const o = raw as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (extra.length > 0) throw malformed(`unknown field ${extra[0] ?? ''}`);
  if (o['v'] !== 1) throw malformed('unsupported version');
  if (typeof o['kekId'] !== 'string' || o['kekId'] === '') throw malformed('kekId');
  const fixed: Array<[keyof Envelope, number | undefined]> = [
    ['wrappedKey', KEY_BYTES],
    ['iv', IV_BYTES],
    ['tag', TAG_BYTES],
    ['keyIv', IV_BYTES],
    ['keyTag', TAG_BYTES],
    ['ciphertext', undefined],
  ];
  for (const [name, bytes] of fixed) {
    const value = o[name];
    if (typeof value !== 'string' || !B64URL.test(value)) throw malformed(name);
    const decoded = Buffer.from(value, 'base64url');
    // Canonical encoding only: otherwise the unused low bits of the last character could change without changing
    // the bytes, and the stored text would no longer be the one thing that opens.
    if (decoded.toString('base64url') !== value) throw malformed(`${name} is not canonical base64url`);
    if (bytes !== undefined && decoded.length !== bytes) throw malformed(`${name} length`);
  }
  return o as unknown as Envelope;
}

function b64(s: string): Buffer {
  return Buffer.from(s, 'base64url');
}

function wrapAad(kekId: string): Buffer {
  return Buffer.from(`writ-envelope/v1 dek ${kekId}`, 'utf8');
}

function dataAad(aad: string): Buffer {
  return Buffer.from(`writ-envelope/v1 data ${aad}`, 'utf8');
}

function checkAad(aad: string): void {
  // An empty AAD would let an envelope open anywhere: every caller must name the record it seals for.
  if (typeof aad !== 'string' || aad === '') throw new TypeError('envelope AAD must name the record (e.g. secret:<id>:<version>)');
}
