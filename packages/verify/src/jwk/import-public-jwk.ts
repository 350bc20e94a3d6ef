/**
 * Turns the `jwk` of a DPoP proof header into a `KeyObject`, refusing private or malformed keys and keys that do not
 * fit the proof's `alg` (RFC 9449 §4.3 items 5–7). Keys are cached by thumbprint: an agent signs many proofs with one
 * key, and `createPublicKey` costs more than the cache lookup. *
 * The members must be the key's canonical encoding (RFC 7518 §6.2.1 fixed-length coordinates, §6.3.1 minimal-length
 * RSA integers): `node:crypto` also reads an EC `x` with a leading zero octet, or an RSA `e` of `AAEAAQ`, as the same
 * key, and every such spelling has another RFC 7638 thumbprint. One key must have exactly one `jkt`, or a holder of a
 * key revoked by `jkt` could present it under a fresh one. (jose accepts these spellings; Writ refuses them.)
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { keyFitsAlg } from '../jws/verify-compact-jws.js';
import { jwkThumbprint, type PublicJwk } from './jwk-thumbprint.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const KTY_FOR_ALG: Record<string, string> = { ES256: 'EC', EdDSA: 'OKP', RS256: 'RSA', PS256: 'RSA' };
const CACHE_MAX = 10_000;
const cache = new Map<string, KeyObject>();

export interface ImportedJwk {
  key: KeyObject;
  jkt: string;
  jwk: PublicJwk;
}

/** Imports of JWK objects already seen (the same frozen header object comes back for each proof of an agent). */
const byObject = new WeakMap<object, Map<string, ImportedJwk | null>>();

/** Returns undefined for anything that is not a usable public key for `alg`. */
export function importPublicJwk(value: unknown, alg: string): ImportedJwk | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (Object.isFrozen(value)) {
    let perAlg = byObject.get(value);
    const seen = perAlg?.get(alg);
    if (seen !== undefined) return seen ?? undefined;
    const imported = importUncached(value, alg);
    if (perAlg === undefined) {
      perAlg = new Map();
      byObject.set(value, perAlg);
    }
    perAlg.set(alg, imported ?? null);
    return imported;
  }
  return importUncached(value, alg);
}

function importUncached(value: object, alg: string): ImportedJwk | undefined {
  const jwk = value as PublicJwk;
  if (typeof jwk.kty !== 'string' || KTY_FOR_ALG[alg] !== jwk.kty) return undefined;
  for (const m of PRIVATE_MEMBERS) if (m in jwk) return undefined;
  if (jwk.kty === 'EC' && jwk.crv !== 'P-256') return undefined;
  if (jwk.kty === 'OKP' && jwk.crv !== 'Ed25519') return undefined;
  let jkt: string;
  try {
    jkt = jwkThumbprint(jwk);
  } catch {
    return undefined;
  }
  const cacheKey = `${alg} ${jkt}`;
  let key = cache.get(cacheKey);
  if (key === undefined) {
    try {
      const members: Record<string, string> = { kty: jwk.kty };
      for (const m of ['crv', 'x', 'y', 'n', 'e'] as const) if (typeof jwk[m] === 'string') members[m] = jwk[m];
      key = createPublicKey({ key: members, format: 'jwk' });
      const exported = key.export({ format: 'jwk' }) as Record<string, unknown>;
      for (const m of Object.keys(members)) if (exported[m] !== members[m]) return undefined;
    } catch {
      return undefined;
    }
    if (!keyFitsAlg(key, alg)) return undefined;
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(cacheKey, key);
  }
  return { key, jkt, jwk };
}
