/**
 * Verification of a Writ task token as RFC 9068 §4 prescribes for a resource server: `typ` `at+jwt`, an allowed
 * asymmetric `alg`, a known `kid`, the signature, then `iss` exactly, `aud` containing this resource, `exp` and
 * `nbf`/`iat` with a small skew, and every claim Writ relies on present with the right JSON type.
 */
import { WritError, type TaskTokenClaims } from '@writ/protocol';
import { parseCompactJws, verifyJwsSignature, JWS_ALGS } from '../jws/verify-compact-jws.js';
import type { TokenKeys } from './token-keys.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

export interface TaskTokenCheckOptions {
  issuer: string;
  /** This resource's identifier; `null` skips the audience check (Writ's own agent API, where any task may end itself). */
  audience: string | null;
  keys: TokenKeys;
  algorithms?: readonly string[];
  clockSkewSeconds: number;
  /** Current time in epoch seconds. */
  now?: () => number;
  cache?: VerifiedTokenCache;
}

export function verifyTaskToken(token: string, opts: TaskTokenCheckOptions): TaskTokenClaims {
  const cacheKey = opts.cache !== undefined ? VerifiedTokenCache.keyOf(token) : undefined;
  let claims = cacheKey !== undefined ? opts.cache?.get(cacheKey) : undefined;
  if (claims === undefined) {
    claims = verifySignatureAndShape(token, opts);
    if (cacheKey !== undefined) opts.cache?.set(cacheKey, claims, opts.now?.() ?? Date.now() / 1000);
  }
  checkTimeAndAudience(claims, opts);
  return claims;
}

function verifySignatureAndShape(token: string, opts: TaskTokenCheckOptions): TaskTokenClaims {
  const jws = parseCompactJws(token);
  if (jws === 'alg') throw new WritError('ERR_TOKEN_ALG', 'alg missing');
  if (typeof jws === 'string') throw new WritError('ERR_TOKEN_MALFORMED', jws);
  const alg = jws.header['alg'] as string;
  if (!(opts.algorithms ?? JWS_ALGS).includes(alg)) throw new WritError('ERR_TOKEN_ALG', `alg ${alg}`);
  const typ = jws.header['typ'];
  if (typeof typ !== 'string' || !['at+jwt', 'application/at+jwt'].includes(typ.toLowerCase()))
    throw new WritError('ERR_TOKEN_TYPE', `typ ${JSON.stringify(typ ?? null)}`);
  const kid = jws.header['kid'];
  const entry = typeof kid === 'string' ? opts.keys.get(kid) : undefined;
  if (entry === undefined) throw new WritError('ERR_TOKEN_KID_UNKNOWN', `kid ${JSON.stringify(kid ?? null)}`);
  if (entry.alg !== alg) throw new WritError('ERR_TOKEN_ALG', `alg ${alg} for a ${entry.alg} key`);
  if (!verifyJwsSignature(jws, alg, entry.key)) throw new WritError('ERR_TOKEN_SIGNATURE');
  const p = jws.payload;
  const problem = shapeProblem(p);
  if (problem !== undefined) throw new WritError('ERR_TOKEN_CLAIMS', problem);
  return p as unknown as TaskTokenClaims;
}

function shapeProblem(p: Record<string, unknown>): string | undefined {
  for (const name of ['iss', 'sub', 'client_id', 'jti', 'task_id'] as const)
    if (typeof p[name] !== 'string' || p[name] === '') return `${name} missing`;
  for (const name of ['iat', 'exp'] as const) if (typeof p[name] !== 'number' || !Number.isFinite(p[name])) return `${name} missing`;
  if (p['nbf'] !== undefined && (typeof p['nbf'] !== 'number' || !Number.isFinite(p['nbf']))) return 'nbf invalid';
  const aud = p['aud'];
  if (!(typeof aud === 'string' || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string')))) return 'aud missing';
  const cnf = p['cnf'] as { jkt?: unknown } | undefined;
  if (typeof cnf !== 'object' || cnf === null || typeof cnf.jkt !== 'string') return 'cnf.jkt missing';
  if (!Array.isArray(p['task_chain']) || !(p['task_chain'] as unknown[]).every((t) => typeof t === 'string')) return 'task_chain missing';
  if (!Array.isArray(p['authorization_details'])) return 'authorization_details missing';
  if (!isActor(p['act'], 0)) return 'act missing or malformed';
  if (p['purpose'] !== undefined && typeof p['purpose'] !== 'string') return 'purpose invalid';
  return undefined;
}

function isActor(v: unknown, depth: number): boolean {
  if (depth > 32 || typeof v !== 'object' || v === null) return false;
  const a = v as { sub?: unknown; act?: unknown };
  return typeof a.sub === 'string' && (a.act === undefined || isActor(a.act, depth + 1));
}

function checkTimeAndAudience(c: TaskTokenClaims, opts: TaskTokenCheckOptions): void {
  if (c.iss !== opts.issuer) throw new WritError('ERR_TOKEN_ISSUER', `iss ${c.iss}`);
  if (opts.audience !== null) {
    const aud = c.aud as string | string[];
    if (!(aud === opts.audience || (Array.isArray(aud) && aud.includes(opts.audience))))
      throw new WritError('ERR_TOKEN_AUDIENCE', `aud ${JSON.stringify(aud)}`);
  }
  const now = opts.now?.() ?? Date.now() / 1000;
  if (c.exp <= now - opts.clockSkewSeconds) throw new WritError('ERR_TOKEN_EXPIRED', `exp ${c.exp}, now ${Math.floor(now)}`);
  if ((c.nbf !== undefined && c.nbf > now + opts.clockSkewSeconds) || c.iat > now + opts.clockSkewSeconds)
    throw new WritError('ERR_TOKEN_NOT_YET_VALID', `iat ${c.iat}, now ${Math.floor(now)}`);
}
