/**
 * The key-encryption key (KEK): 32 bytes that wrap every per-record data key. It comes from configuration
 * (`vault.kek` / `WRIT_KEK`) and never leaves this module: the raw bytes are reachable only through
 * `kekBytes()`, which `envelope.ts` uses and `index.ts` does not export.
 */
import { randomBytes, hkdfSync } from 'node:crypto';
import { inspect } from 'node:util';
import { CryptoError } from './crypto-error.js';
import { SecretValue } from './secret-value.js';

const KEK_BYTES = 32;
// Kept outside the instance so no reflection (inspect with showHidden, structuredClone, a debugger's object view of
// the instance) shows the bytes.
const material = new WeakMap<KeyEncryptionKey, Buffer>();
const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*)$/;

/**
 * @example
 * const kek = KeyEncryptionKey.fromBase64('kek-1', process.env.WRIT_KEK!); // `openssl rand -base64 32`
 * const sealed = sealEnvelope(kek, Buffer.from('hello'), 'secret:demo:1');
 */
export class KeyEncryptionKey {
  /** Recorded in every envelope so that a rotated-out KEK can be told apart from a wrong one. */
  readonly id: string;

  private constructor(id: string, bytes: Buffer) {
    this.id = id;
    material.set(this, bytes);
    Object.freeze(this);
  }

  /** Accepts standard or URL-safe base64 of exactly 32 bytes; anything else is refused with a message that says why. */
  static fromBase64(id: string, base64: string): KeyEncryptionKey {
    checkId(id);
    if (typeof base64 !== 'string') throw new TypeError('KEK must be a base64 string');
    const text = base64.trim();
    if (text === '' || !BASE64.test(text)) {
      throw new CryptoError(
        'ERR_CRYPTO_KEK_INVALID',
        `KEK "${id}" is not base64: give 32 random bytes in base64 (e.g. \`openssl rand -base64 32\`)`,
      );
    }
    const bytes = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (bytes.length !== KEK_BYTES) {
      bytes.fill(0);
      throw new CryptoError(
        'ERR_CRYPTO_KEK_INVALID',
        `KEK "${id}" must be exactly ${KEK_BYTES} bytes; it decodes to a different length (generate one with \`openssl rand -base64 32\`)`,
      );
    }
    return new KeyEncryptionKey(id, bytes);
  }

  /** A fresh random KEK (tests, `writ dev`). Persist it with `export()` or every sealed value is lost. */
  static generate(id = 'kek-1'): KeyEncryptionKey {
    checkId(id);
    return new KeyEncryptionKey(id, randomBytes(KEK_BYTES));
  }

  /** The key as base64, wrapped so that it cannot be logged by accident. */
  export(): SecretValue {
    return new SecretValue(kekBytes(this).toString('base64'));
  }

  toString(): string {
    return `KeyEncryptionKey(${this.id})`;
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return `KeyEncryptionKey(${this.id})`;
  }
}

/**
 * The KEK new envelopes are sealed with, and the older ones still accepted for opening while a rotation re-wraps what
 * they sealed (`writ vault rotate-kek`). Ids must differ: an envelope names its KEK by id.
 *
 * @example
 * const ring = new KeyRing(KeyEncryptionKey.fromBase64('kek-2', next), [KeyEncryptionKey.fromBase64('kek-1', old)]);
 */
export class KeyRing {
  readonly current: KeyEncryptionKey;
  /** The current KEK first, then the previous ones. */
  readonly accepted: readonly KeyEncryptionKey[];

  constructor(current: KeyEncryptionKey, previous: readonly KeyEncryptionKey[] = []) {
    const ids = new Set([current.id]);
    for (const k of previous) {
      if (ids.has(k.id)) throw new TypeError(`KEK id "${k.id}" is used twice: the current and previous KEKs need distinct ids`);
      ids.add(k.id);
    }
    this.current = current;
    this.accepted = Object.freeze([current, ...previous]);
    Object.freeze(this);
  }

  toJSON(): { current: string; accepted: string[] } {
    return { current: this.current.id, accepted: this.accepted.map((k) => k.id) };
  }
}

/** Internal to crypto/: the raw key for the AES key wrap. */
export function kekBytes(kek: KeyEncryptionKey): Buffer {
  const bytes = material.get(kek);
  if (bytes === undefined) throw new TypeError('not a KeyEncryptionKey');
  return bytes;
}

function checkId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id)) throw new TypeError('KEK id must be 1-64 characters of [A-Za-z0-9._:-]');
}

/**
 * A key for another purpose derived from the KEK (HKDF-SHA256, RFC 5869), so every node that shares the KEK derives
 * the same key (e.g. for stateless DPoP nonces) and the KEK itself is never used for two things.
 */
export function deriveKey(kek: KeyEncryptionKey | KeyRing, purpose: string): Buffer {
  const key = kek instanceof KeyRing ? kek.current : kek;
  return Buffer.from(hkdfSync('sha256', kekBytes(key), Buffer.alloc(0), `writ:${purpose}`, 32));
}
