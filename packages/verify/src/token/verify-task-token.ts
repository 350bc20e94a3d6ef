/**
 * Verification of a Writ task token as RFC 9068 §4 prescribes for a resource server: `typ` `at+jwt` (or
 * `application/at+jwt`, §2.1), an allowed asymmetric `alg`, a known `kid`, the signature, then `iss` exactly, `aud`
 * containing this resource, `exp` and `nbf`/`iat` with a small skew, and every claim Writ relies on present with the
 * right JSON type (RFC 9068 §2.2, RFC 8693 §4.1 `act`, RFC 9396 §9.1 `authorization_details`, RFC 9449 §6.1 `cnf`).
 */
import type { KeyObject } from 'node:crypto';
import { WritError, type TaskTokenClaims } from '@writ/protocol';
import { parseCompactJws, verifyJwsSignature, JWS_ALGS } from '../jws/verify-compact-jws.js';
import type { TokenKeys } from './token-keys.js';
import type { VerifiedTokenCache } from './verified-token-cache.js';

export interface TaskTokenCheckOptions {
  /** Writ's issuer identifier, compared exactly (RFC 9068 §4 item 3). */
  issuer: string;
  /** This resource's identifier; `null` skips the audience check (Writ's own agent API, where any task may end itself). */
  audience: string | null;
  keys: TokenKeys;
  /** Accepted token algorithms; a subset of JWS_ALGS. Default: all of them (the key's own `alg` must match too). */
  algorithms?: readonly string[];
  /** Tolerated clock difference, seconds, for `exp`, `nbf` and `iat`. */
  clockSkewSeconds: number;
  /** Current time in epoch seconds. */
  now?: () => number;
  cache?: VerifiedTokenCache;
}

const TYPES = ['at+jwt', 'application/at+jwt'];
const MAX_ACT_DEPTH = 32;
/** An RFC 7638 SHA-256 thumbprint: 32 bytes, base64url. */
const JKT = /^[A-Za-z0-9_-]{43}$/;

/**
 * Verifies a task token and returns its claims (deep-frozen: never change them). Throws WritError `ERR_TOKEN_*`.
 *
 * @example
 * const claims = verifyTaskToken(token, {
 *   issuer: 'https://writ.example', audience: 'https://writ.example/r/api', keys, clockSkewSeconds: 5, cache,
 * });
 */
export function verifyTaskToken(token: string, opts: TaskTokenCheckOptions): TaskTokenClaims {
  const now = opts.now?.() ?? Date.now() / 1000;
  const hit = opts.cache?.get(token);
  const hitKey = hit === undefined ? undefined : opts.keys.get(hit.kid);
  let claims: TaskTokenClaims;
  // A hit counts only while its kid still names the very key that verified it, under an algorithm this call allows.
  if (hit !== undefined && hitKey?.key === hit.key && (opts.algorithms ?? JWS_ALGS).includes(hitKey.alg)) {
    claims = hit.claims;
  } else {
    const verified = verifySignatureAndShape(token, opts);
    claims = verified.claims;
    opts.cache?.set(token, verified, now);
  }
  checkTimeIssuerAudience(claims, opts, now);
  return claims;
}

function verifySignatureAndShape(token: string, opts: TaskTokenCheckOptions): { claims: TaskTokenClaims; kid: string; key: KeyObject } {
  const jws = parseCompactJws(token);
  if (jws === 'alg') throw new WritError('ERR_TOKEN_ALG', 'alg missing');
  if (typeof jws === 'string') throw new WritError('ERR_TOKEN_MALFORMED', jws);
  const alg = jws.header['alg'] as string;
  if (!(opts.algorithms ?? JWS_ALGS).includes(alg) || !(JWS_ALGS as readonly string[]).includes(alg))
    throw new WritError('ERR_TOKEN_ALG', `alg ${alg}`);
  const typ = jws.header['typ'];
  // RFC 7515 §4.1.9 / RFC 2045: media type names compare case-insensitively.
  if (typeof typ !== 'string' || !TYPES.includes(typ.toLowerCase()))
    throw new WritError('ERR_TOKEN_TYPE', `typ ${JSON.stringify(typ ?? null)}`);
  const kid = jws.header['kid'];
  const entry = typeof kid === 'string' ? opts.keys.get(kid) : undefined;
  if (typeof kid !== 'string' || entry === undefined) throw new WritError('ERR_TOKEN_KID_UNKNOWN', `kid ${JSON.stringify(kid ?? null)}`);
  if (entry.alg !== alg) throw new WritError('ERR_TOKEN_ALG', `alg ${alg} for a ${entry.alg} key`);
  if (!verifyJwsSignature(jws, alg, entry.key)) throw new WritError('ERR_TOKEN_SIGNATURE');
  const p = jws.payload;
  const problem = shapeProblem(p);
  if (problem !== undefined) throw new WritError('ERR_TOKEN_CLAIMS', problem);
  return { claims: deepFreeze(p) as unknown as TaskTokenClaims, kid, key: entry.key };
}

function shapeProblem(p: Record<string, unknown>): string | undefined {
  for (const name of ['iss', 'sub', 'client_id', 'jti', 'task_id'] as const)
    if (typeof p[name] !== 'string' || p[name] === '') return `${name} missing`;
  for (const name of ['iat', 'exp'] as const) if (!isNumber(p[name])) return `${name} missing`;
  if (p['nbf'] !== undefined && !isNumber(p['nbf'])) return 'nbf invalid';
  const aud = p['aud'];
  if (!((typeof aud === 'string' && aud !== '') || (isStringArray(aud) && aud.length > 0))) return 'aud missing';
  const cnf = p['cnf'];
  // A bearer task token has no cnf at all; whether bearer tokens are accepted is the per-call check's decision.
  if (cnf !== undefined && (!isObject(cnf) || typeof cnf['jkt'] !== 'string' || !JKT.test(cnf['jkt']))) return 'cnf.jkt malformed';
  if (!isStringArray(p['task_chain'])) return 'task_chain missing';
  const detailsProblem = authorizationDetailsProblem(p['authorization_details']);
  if (detailsProblem !== undefined) return detailsProblem;
  if (!isActor(p['act'], 0)) return 'act missing or malformed';
  for (const name of ['purpose', 'scope', 'email'] as const)
    if (p[name] !== undefined && typeof p[name] !== 'string') return `${name} invalid`;
  return undefined;
}

/**
 * RFC 9396 §2: an array of objects, each with a string `type`. For Writ's `http` and `mcp` types the members the
 * matchers read must have their types too, so that, for example, a string `locations` can never be read as a
 * substring test. Finer checks (tool patterns, constraint shapes) are the matchers' own, which grant nothing through
 * a malformed detail. Other types are left to their own matchers (and never match a call).
 */
function authorizationDetailsProblem(v: unknown): string | undefined {
  if (!Array.isArray(v)) return 'authorization_details missing';
  for (const d of v) {
    if (!isObject(d) || typeof d['type'] !== 'string') return 'authorization_details entry malformed';
    if (d['type'] === 'http') {
      if (!isStringArray(d['actions']) || !isStringArray(d['paths'])) return 'http authorization detail malformed';
      if (d['locations'] !== undefined && !isStringArray(d['locations'])) return 'http authorization detail locations malformed';
    }
    if (d['type'] === 'mcp') {
      const lists = ['tools', 'resources', 'prompts'].filter((m) => d[m] !== undefined);
      if (lists.length === 0 || !lists.every((m) => isStringArray(d[m]))) return 'mcp authorization detail malformed';
      if (d['arguments'] !== undefined && !isObject(d['arguments'])) return 'mcp authorization detail arguments malformed';
      if (d['locations'] !== undefined && !isStringArray(d['locations'])) return 'mcp authorization detail locations malformed';
    }
  }
  return undefined;
}

function isActor(v: unknown, depth: number): boolean {
  if (depth > MAX_ACT_DEPTH || !isObject(v)) return false;
  return typeof v['sub'] === 'string' && v['sub'] !== '' && (v['act'] === undefined || isActor(v['act'], depth + 1));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function checkTimeIssuerAudience(c: TaskTokenClaims, opts: TaskTokenCheckOptions, now: number): void {
  if (c.iss !== opts.issuer) throw new WritError('ERR_TOKEN_ISSUER', `iss ${c.iss}`);
  if (opts.audience !== null) {
    const aud = c.aud as string | string[];
    if (!(aud === opts.audience || (Array.isArray(aud) && aud.includes(opts.audience))))
      throw new WritError('ERR_TOKEN_AUDIENCE', `aud ${JSON.stringify(aud)}`);
  }
  if (c.exp <= now - opts.clockSkewSeconds) throw new WritError('ERR_TOKEN_EXPIRED', `exp ${c.exp}, now ${Math.floor(now)}`);
  if ((c.nbf !== undefined && c.nbf > now + opts.clockSkewSeconds) || c.iat > now + opts.clockSkewSeconds)
    throw new WritError('ERR_TOKEN_NOT_YET_VALID', `iat ${c.iat}, nbf ${c.nbf ?? '-'}, now ${Math.floor(now)}`);
}
