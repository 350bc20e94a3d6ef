/**
 * `jose.jwtVerify` with the same verdicts, payloads and errors, at about half its cost on the common path. jose's
 * async WebCrypto verification costs about twice raw `node:crypto` on our reference machine, and the token endpoint checks
 * two JWTs per exchange (the client assertion and the user's token).
 *
 * Only the signature arithmetic moves: the key is still chosen and imported by jose's own key-set function (its
 * kid/alg/use/key_ops rules, its JWKS refetches and cooldowns), the claims are still checked by jose's own claims-set
 * validation (through `UnsecuredJWT.decode` of the same payload segment, with the same options), and the signature
 * is checked by `@writ/verify`'s node:crypto verifier, the one that is differentially tested against jose. Whenever
 * this path is not certain to reach jose's verdict — a header jose treats specially (`crit`, `b64`), an algorithm or
 * key the node:crypto verifier does not take, any encoding it refuses — the whole check is handed to
 * `jose.jwtVerify`, and so is every signature that does not verify. So this path only ever answers where jose would
 * answer the same, and failures cost what they cost before.
 */
import { createHash, KeyObject, type webcrypto } from 'node:crypto';
import {
  jwtVerify,
  UnsecuredJWT,
  type CompactJWSHeaderParameters,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import { JWS_ALGS, keyFitsAlg, parseCompactJws, verifyJwsSignature } from '@writ/verify/internal';

/** A jose key-set function (`createLocalJWKSet`, `createRemoteJWKSet`). */
export type JwtKeyResolver = JWTVerifyGetKey;

export interface JwtVerifyStats {
  fast: number;
  jose: number;
  /** Signatures not computed again: the same token bytes, checked before by the very key the key set gives now. */
  cached?: number;
}

/**
 * Tokens whose signature verified, each with the key that verified it, for a token presented again (a user's ID token
 * starts many tasks). A hit skips only the signature arithmetic, and only while the key set still hands out that very
 * key object for the token (a refetched or rotated JWKS imports new objects: a miss). The claims are checked again on
 * every use. Keyed by SHA-256 of the whole token, so an entry costs the same whatever the token's size.
 */
export class VerifiedSignatureCache {
  readonly #entries = new Map<string, KeyObject>();
  readonly #max: number;
  constructor(opts: { maxEntries?: number } = {}) {
    this.#max = opts.maxEntries ?? 10_000;
  }
  /** True when `token` verified before with exactly `key`. */
  has(token: string, key: KeyObject): boolean {
    const k = digest(token);
    const hit = this.#entries.get(k);
    if (hit === undefined) return false;
    // Least recently used goes first.
    this.#entries.delete(k);
    this.#entries.set(k, hit);
    return hit === key;
  }
  add(token: string, key: KeyObject): void {
    const k = digest(token);
    this.#entries.delete(k);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(k, key);
  }
  get size(): number {
    return this.#entries.size;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** `{"alg":"none"}`: the header under which jose's own claims validation reads the payload segment. */
const NONE_HEADER = Buffer.from('{"alg":"none"}').toString('base64url');
const FAST_ALGS: readonly string[] = JWS_ALGS;
const keyObjects = new WeakMap<object, KeyObject>();

/**
 * Resolves like `jwtVerify(jwt, getKey, options)` to `{ payload, protectedHeader }`, and rejects with the error jose
 * would throw. `options.algorithms` is required (as everywhere in Writ: the allow-list is what stops `alg` games).
 */
export async function verifyJwt(
  jwt: string,
  getKey: JwtKeyResolver,
  options: JWTVerifyOptions & { algorithms: readonly string[] },
  stats?: JwtVerifyStats,
  cache?: VerifiedSignatureCache,
): Promise<{ payload: JWTPayload; protectedHeader: JWSHeaderParameters }> {
  const viaJose = async (): Promise<{ payload: JWTPayload; protectedHeader: JWSHeaderParameters }> => {
    if (stats !== undefined) stats.jose++;
    const { payload, protectedHeader } = await jwtVerify(jwt, getKey, { ...options, algorithms: [...options.algorithms] });
    return { payload, protectedHeader };
  };
  // What jose reads differently from the claims alone (`typ`) or treats specially (`crit`, `b64`) is jose's to check.
  if (options.typ !== undefined || options.crit !== undefined) return viaJose();
  const jws = parseCompactJws(jwt);
  if (typeof jws === 'string') return viaJose();
  const header = jws.header as JWSHeaderParameters;
  const alg = header.alg as string;
  if (!FAST_ALGS.includes(alg) || !options.algorithms.includes(alg)) return viaJose();
  const [protectedSegment, payloadSegment, signatureSegment] = jwt.split('.') as [string, string, string];
  // jose's own key choice and import. Every check jose makes before it asks for the key has passed here (no crit,
  // no b64, an allowed alg), so an error of the key set is the error jose would throw at this point.
  const key = await getKey({ ...header } as CompactJWSHeaderParameters, {
    payload: payloadSegment,
    protected: protectedSegment,
    signature: signatureSegment,
  });
  const keyObject = toKeyObject(key);
  if (keyObject === undefined || keyObject.type !== 'public' || !keyFitsAlg(keyObject, alg)) return viaJose();
  if (cache !== undefined && cache.has(jwt, keyObject)) {
    if (stats !== undefined) stats.cached = (stats.cached ?? 0) + 1;
  } else {
    // A signature that does not verify here is handed to jose too: its verdict and its words, whatever the reason.
    if (!verifyJwsSignature(jws, alg, keyObject)) return viaJose();
    cache?.add(jwt, keyObject);
  }
  if (stats !== undefined) stats.fast++;
  const { algorithms: _algorithms, crit: _crit, ...claimOptions } = options;
  const { payload } = UnsecuredJWT.decode(`${NONE_HEADER}.${payloadSegment}.`, claimOptions);
  return { payload, protectedHeader: { ...header } };
}

/**
 * jose's key-set functions hand out one CryptoKey per JWK and algorithm; convert each once. Anything else a key
 * function may return (a secret, a JWK to import) is left to jose.
 */
function toKeyObject(key: Awaited<ReturnType<JwtKeyResolver>>): KeyObject | undefined {
  if (key instanceof KeyObject) return key;
  if (key instanceof Uint8Array) return undefined;
  let ko = keyObjects.get(key);
  if (ko === undefined) {
    try {
      ko = KeyObject.from(key as webcrypto.CryptoKey);
    } catch {
      return undefined;
    }
    keyObjects.set(key, ko);
  }
  return ko;
}
