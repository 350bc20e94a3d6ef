/**
 * RFC 9449 §4.3 "Checking DPoP Proofs", every item, in order, each failure with its own stable code. The replay
 * check runs last, so a proof that fails any other check never occupies the replay cache.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { WritError, type DpopProofClaims } from '@writ/protocol';
import { JWS_ALGS, parseCompactJws, verifyJwsSignature } from '../jws/verify-compact-jws.js';
import { importPublicJwk } from '../jwk/import-public-jwk.js';
import type { PublicJwk } from '../jwk/jwk-thumbprint.js';
import { isCanonicalHtu, normalizeHtu } from './normalize-htu.js';
import { ReplayCacheFullError, type ReplayCache } from './replay-cache.js';

export interface DpopCheckOptions {
  /** The request's method and absolute URL as the client addressed it. */
  method: string;
  url: string;
  /** When the proof accompanies an access token (at a resource), its `ath` must match it. */
  accessToken?: string;
  replay: ReplayCache;
  /** Accepted proof algorithms: a subset of JWS_ALGS (asymmetric only; anything else is a TypeError). */
  algorithms: readonly string[];
  /** How long after its `iat` a proof is accepted, seconds. */
  maxAgeSeconds: number;
  /** Accepted clock skew, seconds (also how far in the future `iat` may be). */
  clockSkewSeconds: number;
  /** Current time in epoch seconds. */
  now?: () => number;
  /** Server nonce check (RFC 9449 §8/§9): return false to refuse. Absent: nonces are not required. */
  checkNonce?: (nonce: string | undefined) => boolean;
}

export interface VerifiedDpopProof {
  jkt: string;
  jwk: PublicJwk;
  claims: DpopProofClaims;
}

const MAX_JTI = 256;
const SUPPORTED: readonly string[] = JWS_ALGS;

/**
 * Checks the `DPoP` header values of one request (RFC 9449 §4.3) and returns the proof's key and its thumbprint.
 *
 * @example
 * const { jkt } = await verifyDpopProof(dpopHeaderValues, {
 *   method: 'GET', url: 'https://writ.example/r/api/v1/x', accessToken, replay, algorithms: ['ES256', 'EdDSA'],
 *   maxAgeSeconds: 60, clockSkewSeconds: 5,
 * });
 */
export async function verifyDpopProof(proofs: readonly string[], opts: DpopCheckOptions): Promise<VerifiedDpopProof> {
  for (const a of opts.algorithms) if (!SUPPORTED.includes(a)) throw new TypeError(`DPoP algorithm ${a} is not supported`);
  if (proofs.length === 0) throw new WritError('ERR_DPOP_MISSING');
  if (proofs.length > 1) throw new WritError('ERR_DPOP_MULTIPLE', `${proofs.length} DPoP headers`);
  const jws = parseCompactJws(proofs[0] as string);
  if (typeof jws === 'string') throw new WritError(jws === 'alg' ? 'ERR_DPOP_ALG' : 'ERR_DPOP_MALFORMED', `proof ${jws}`);
  const { header, payload } = jws;
  if (header['typ'] !== 'dpop+jwt') throw new WritError('ERR_DPOP_TYPE', `typ ${JSON.stringify(header['typ'] ?? null)}`);
  const alg = header['alg'] as string;
  if (!opts.algorithms.includes(alg)) throw new WritError('ERR_DPOP_ALG', `alg ${alg}`);
  const imported = importPublicJwk(header['jwk'], alg);
  if (imported === undefined) throw new WritError('ERR_DPOP_JWK', 'jwk missing, private, or not usable with alg');
  if (!verifyJwsSignature(jws, alg, imported.key)) throw new WritError('ERR_DPOP_SIGNATURE');

  const { jti, htm, htu, iat, ath, nonce } = payload;
  if (
    typeof jti !== 'string' ||
    jti.length === 0 ||
    jti.length > MAX_JTI ||
    typeof htm !== 'string' ||
    typeof htu !== 'string' ||
    typeof iat !== 'number' ||
    !Number.isFinite(iat)
  ) {
    throw new WritError('ERR_DPOP_CLAIMS', 'jti, htm, htu and iat are required');
  }
  if ((ath !== undefined && typeof ath !== 'string') || (nonce !== undefined && typeof nonce !== 'string'))
    throw new WritError('ERR_DPOP_CLAIMS', 'ath and nonce must be strings');
  if (htm !== opts.method) throw new WritError('ERR_DPOP_HTM', `htm ${htm} for ${opts.method}`);
  // Fast path: a client that sends exactly the URL it called (the SDKs do) needs no URL parsing — when that URL is
  // already canonical, since it is also the replay key (a non-canonical spelling would let one proof be used twice).
  const exact = htu === opts.url && isCanonicalHtu(opts.url);
  const expectedHtu = exact ? opts.url : normalizeHtu(opts.url);
  if (expectedHtu === undefined || (!exact && normalizeHtu(htu) !== expectedHtu))
    throw new WritError('ERR_DPOP_HTU', `htu ${htu.slice(0, 200)}`);
  const now = opts.now?.() ?? Date.now() / 1000;
  if (iat > now + opts.clockSkewSeconds || iat < now - opts.maxAgeSeconds - opts.clockSkewSeconds) {
    throw new WritError('ERR_DPOP_IAT', `iat ${iat}, now ${Math.floor(now)}`);
  }
  if (opts.checkNonce !== undefined && !opts.checkNonce(nonce))
    throw new WritError('ERR_DPOP_NONCE', nonce === undefined ? 'nonce missing' : 'nonce stale or unknown');
  if (opts.accessToken !== undefined) {
    // RFC 9449 §4.2 hashes the ASCII token; 'utf8' is the same for ASCII and, unlike Node's lossy 'ascii', never
    // lets two different non-ASCII strings hash alike.
    const expected = createHash('sha256').update(opts.accessToken, 'utf8').digest();
    const given = typeof ath === 'string' ? Buffer.from(ath, 'base64url') : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected) || given.toString('base64url') !== ath) {
      throw new WritError('ERR_DPOP_ATH', ath === undefined ? 'ath missing' : 'ath mismatch');
    }
  }
  // RFC 9449 §11.1: remember the jti per target URI for as long as the proof could be accepted — as a fixed-size
  // hash, so an entry costs the same whatever the jti and URI lengths, and a shared store never sees either.
  const replayKey = createHash('sha256').update(jti).update('\n').update(expectedHtu).digest('base64url');
  let fresh: boolean;
  try {
    fresh = await opts.replay.checkAndStore(replayKey, iat + opts.maxAgeSeconds + opts.clockSkewSeconds);
  } catch (err) {
    if (err instanceof ReplayCacheFullError) throw new WritError('ERR_NOT_READY', 'DPoP replay cache full');
    throw err;
  }
  if (!fresh) throw new WritError('ERR_DPOP_REPLAY', `jti ${jti.slice(0, 64)}`);
  const claims: DpopProofClaims = {
    jti,
    htm,
    htu,
    iat,
    ...(typeof ath === 'string' ? { ath } : {}),
    ...(typeof nonce === 'string' ? { nonce } : {}),
  };
  return { jkt: imported.jkt, jwk: imported.jwk, claims };
}
