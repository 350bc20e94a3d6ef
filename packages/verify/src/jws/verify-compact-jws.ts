/**
 * Compact JWS verification (RFC 7515) on `node:crypto`, for the per-call path: jose's async helpers cost about twice
 * raw `node:crypto` on our reference machine. Asymmetric algorithms only — `none` and MAC algorithms can never verify,
 * whatever key is offered, which closes the HS256-with-a-public-key confusion. A differential test holds this
 * implementation to jose's verdict on every vector and attack.
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import { decodeBase64url, parseJsonObject } from '../base64url.js';

export const JWS_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
export type JwsAlg = (typeof JWS_ALGS)[number];

/** Refuse inputs a task token or proof never needs, before any parsing work. */
export const MAX_JWS_LENGTH = 16 * 1024;

export interface ParsedJws {
  header: Readonly<Record<string, unknown>>;
  payload: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

export type JwsParseFailure = 'malformed' | 'crit' | 'alg';

/**
 * Decoded protected headers, by their encoded form. An agent's proofs (and Writ's tokens) repeat the same header, so
 * decoding it once saves the base64 and JSON work per call — and gives a stable object identity that the JWK import
 * cache keys on. Returned objects are frozen: shared, so never to be changed.
 */
const headers = new Map<string, Readonly<Record<string, unknown>> | null>();
const HEADER_CACHE_MAX = 10_000;
/**
 * Only headers of a plausible size are remembered: a proof header with a 4096-bit RSA key is about 1 KiB encoded.
 * Without this bound, 10,000 distinct 16 KiB headers (unauthenticated input) would pin hundreds of megabytes.
 */
const HEADER_CACHE_MAX_SEGMENT = 2048;

function decodeHeader(segment: string): Readonly<Record<string, unknown>> | undefined {
  const hit = headers.get(segment);
  if (hit !== undefined) return hit ?? undefined;
  const bytes = decodeBase64url(segment);
  const parsed = bytes === undefined ? undefined : parseJsonObject(bytes);
  if (segment.length > HEADER_CACHE_MAX_SEGMENT) return parsed;
  if (headers.size >= HEADER_CACHE_MAX) headers.delete(headers.keys().next().value as string);
  headers.set(segment, parsed === undefined ? null : deepFreeze(parsed));
  return parsed;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Splits and decodes; checks nothing cryptographic. Returns the failure kind instead of throwing (hot path). */
export function parseCompactJws(token: string): ParsedJws | JwsParseFailure {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_JWS_LENGTH) return 'malformed';
  const a = token.indexOf('.');
  const b = a === -1 ? -1 : token.indexOf('.', a + 1);
  if (a <= 0 || b === -1 || token.indexOf('.', b + 1) !== -1) return 'malformed';
  const header = decodeHeader(token.slice(0, a));
  const payloadBytes = decodeBase64url(token.slice(a + 1, b));
  const signature = decodeBase64url(token.slice(b + 1));
  if (payloadBytes === undefined || signature === undefined) return 'malformed';
  const payload = parseJsonObject(payloadBytes);
  if (header === undefined || payload === undefined) return 'malformed';
  // RFC 7515 §4.1.11: a `crit` we do not understand makes the JWS invalid; Writ understands none (this also refuses
  // RFC 7797 `b64: false`, which must be listed in `crit`).
  if (header['crit'] !== undefined || header['b64'] !== undefined) return 'crit';
  if (typeof header['alg'] !== 'string') return 'alg';
  return { header, payload, signingInput: Buffer.from(token.slice(0, b), 'ascii'), signature };
}

/** RSA bounds. RFC 7518 §3.3 sets the 2048-bit floor; the ceilings are Writ's (see rsaFits). */
export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 4096;
const RSA_MAX_EXPONENT = 2n ** 32n;

/**
 * Does `key` fit `alg`? Refuses, for example, an RSA key for ES256 or a P-384 key for ES256.
 *
 * RSA keys also need a modulus of at most 4096 bits and an odd public exponent below 2^32: a DPoP proof brings its
 * own key, and a 2048-bit (3072-bit) key with a ~2048-bit (~3072-bit) exponent costs 2 ms (13 ms) per verification
 * instead of ~0.05 ms — an unauthenticated CPU amplifier. jose accepts such keys; Writ is stricter (documented).
 */
export function keyFitsAlg(key: KeyObject, alg: string): boolean {
  switch (alg) {
    case 'ES256':
      return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
    case 'EdDSA':
      return key.asymmetricKeyType === 'ed25519';
    case 'RS256':
      return key.asymmetricKeyType === 'rsa' && rsaFits(key);
    case 'PS256':
      return (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') && rsaFits(key);
    default:
      return false;
  }
}

function rsaFits(key: KeyObject): boolean {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const e = key.asymmetricKeyDetails?.publicExponent ?? 0n;
  return bits >= RSA_MIN_BITS && bits <= RSA_MAX_BITS && e >= 3n && e < RSA_MAX_EXPONENT && e % 2n === 1n;
}

/** Verifies the signature of a parsed JWS with `key` under `alg` (which the caller has already allow-listed). */
export function verifyJwsSignature(jws: ParsedJws, alg: string, key: KeyObject): boolean {
  if (!keyFitsAlg(key, alg)) return false;
  try {
    switch (alg) {
      case 'ES256':
        if (jws.signature.length !== 64) return false;
        return verify('sha256', jws.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
      case 'EdDSA':
        return verify(null, jws.signingInput, key, jws.signature);
      case 'RS256':
        return verify('sha256', jws.signingInput, { key, padding: constants.RSA_PKCS1_PADDING }, jws.signature);
      case 'PS256':
        return verify('sha256', jws.signingInput, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jws.signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}
