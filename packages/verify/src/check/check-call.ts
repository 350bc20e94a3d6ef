/**
 * The per-call check, shared by Writ's gateway, its agent API and services using the verifier: one Authorization
 * header with the DPoP scheme → the task token → the DPoP proof for this request and this token → the proof's key
 * is the token's key → nothing revoked. What the call may do (authorization details, grants) is the caller's next
 * step, on the canonical path.
 */
import { WritError, type TaskTokenClaims } from '@writ/protocol';
import { verifyTaskToken } from '../token/verify-task-token.js';
import type { TokenKeys } from '../token/token-keys.js';
import type { VerifiedTokenCache } from '../token/verified-token-cache.js';
import { verifyDpopProof } from '../dpop/verify-dpop-proof.js';
import type { ReplayCache } from '../dpop/replay-cache.js';
import type { RevocationSet } from '../revocation/revocation-set.js';
import type { DpopNonces } from '../dpop/dpop-nonce.js';

export interface CallRequest {
  method: string;
  /** The absolute URL as the client addressed it (used for `htu`). */
  url: string;
  /** Every Authorization header value, repeats included. */
  authorization: readonly string[];
  /** Every DPoP header value. */
  dpop: readonly string[];
}

export interface CheckCallContext {
  issuer: string;
  /** This resource's identifier, or null to skip the audience check (Writ's agent API). */
  audience: string | null;
  keys: TokenKeys;
  replay: ReplayCache;
  revocations: RevocationSet;
  tokenCache?: VerifiedTokenCache;
  /** Accepted algorithms for proofs (tokens are checked against their key's algorithm). */
  algorithms?: readonly string[];
  maxAgeSeconds: number;
  clockSkewSeconds: number;
  /** Current time in epoch seconds. */
  now?: () => number;
  /** When set, every proof must carry a current server nonce (RFC 9449 §9); refusals are ERR_DPOP_NONCE. */
  nonces?: DpopNonces;
  /**
   * Accept bearer task tokens (`Authorization: Bearer`, no proof) — only tokens issued without `cnf`, for an MCP
   * resource whose operator allows standard clients that cannot sign DPoP proofs. Never a DPoP-bound token presented
   * as Bearer (RFC 9449 §7.2: a downgrade). Default false: every token must be DPoP-bound and proven.
   */
  acceptBearer?: boolean;
}

export interface VerifiedCall {
  claims: TaskTokenClaims;
  /** The thumbprint of the key the call was proven with; null for a bearer call. */
  jkt: string | null;
}

const DEFAULT_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

function extractToken(authorization: readonly string[]): { scheme: 'dpop' | 'bearer'; token: string } {
  if (authorization.length === 0) throw new WritError('ERR_AUTH_MISSING');
  if (authorization.length > 1) throw new WritError('ERR_AUTH_MULTIPLE', `${authorization.length} Authorization headers`);
  const value = authorization[0] as string;
  const m = /^([A-Za-z]+) +([A-Za-z0-9\-._~+/]+=*)$/.exec(value);
  if (m === null) throw new WritError('ERR_AUTH_MALFORMED');
  const scheme = (m[1] as string).toLowerCase();
  if (scheme !== 'dpop' && scheme !== 'bearer') throw new WritError('ERR_AUTH_MALFORMED', `scheme ${scheme}`);
  return { scheme, token: m[2] as string };
}

export function extractDpopToken(authorization: readonly string[]): string {
  const { scheme, token } = extractToken(authorization);
  // RFC 9449 §7.2: a DPoP-bound token presented as Bearer is a downgrade.
  if (scheme !== 'dpop') throw new WritError('ERR_AUTH_SCHEME', `scheme ${scheme}`);
  return token;
}

/**
 * A refusal of a credential that is authentic — Writ signed it, and for a DPoP call the caller proved the key — but
 * revoked. It carries the verified claims so the refusal can be put on the task's record: who tried to act after the
 * kill is what an auditor asks first. Nothing else may be decided from them.
 */
export class RevokedCredentialError extends WritError {
  readonly claims: TaskTokenClaims;
  constructor(code: ConstructorParameters<typeof WritError>[0], claims: TaskTokenClaims) {
    super(code, `task ${claims.task_id}`);
    this.name = 'RevokedCredentialError';
    this.claims = claims;
  }
}

export async function checkCall(request: CallRequest, ctx: CheckCallContext): Promise<VerifiedCall> {
  const { scheme, token } = extractToken(request.authorization);
  if (scheme === 'bearer' && ctx.acceptBearer !== true) throw new WritError('ERR_AUTH_SCHEME', 'scheme bearer');
  const claims = verifyTaskToken(token, {
    issuer: ctx.issuer,
    audience: ctx.audience,
    keys: ctx.keys,
    clockSkewSeconds: ctx.clockSkewSeconds,
    ...(ctx.now !== undefined ? { now: ctx.now } : {}),
    ...(ctx.tokenCache !== undefined ? { cache: ctx.tokenCache } : {}),
  });
  if (scheme === 'bearer') {
    if (claims.cnf !== undefined) throw new WritError('ERR_AUTH_SCHEME', 'a DPoP-bound token presented as Bearer');
    const revoked = ctx.revocations.check(claims, '');
    if (revoked !== null) throw new RevokedCredentialError(revoked, claims);
    return { claims, jkt: null };
  }
  // An unbound (bearer) token never authenticates a DPoP call: it was issued for bearer use only.
  if (claims.cnf === undefined) throw new WritError('ERR_DPOP_BINDING', 'the token is not DPoP-bound');
  const proof = await verifyDpopProof(request.dpop, {
    method: request.method,
    url: request.url,
    accessToken: token,
    replay: ctx.replay,
    algorithms: ctx.algorithms ?? DEFAULT_ALGS,
    maxAgeSeconds: ctx.maxAgeSeconds,
    clockSkewSeconds: ctx.clockSkewSeconds,
    ...(ctx.now !== undefined ? { now: ctx.now } : {}),
    ...(ctx.nonces !== undefined ? { checkNonce: ctx.nonces.check } : {}),
  });
  if (proof.jkt !== claims.cnf.jkt) throw new WritError('ERR_DPOP_BINDING', 'proof key is not the token key');
  const revoked = ctx.revocations.check(claims, proof.jkt);
  if (revoked !== null) throw new RevokedCredentialError(revoked, claims);
  return { claims, jkt: proof.jkt };
}
