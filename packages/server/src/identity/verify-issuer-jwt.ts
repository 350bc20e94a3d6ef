/**
 * The one check of a JWT from a trusted outside issuer — a user's identity provider or a workload-identity issuer:
 * asymmetric signature by one of the issuer's keys, `iss` exactly, `aud` containing the expected audience, `exp`
 * required, `nbf` and `iat` not in the future (with skew), and a `sub` fit to become part of a Writ identifier.
 * Returns the payload or a reason (for the audit log; callers decide the public error).
 */
import { errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { verifyJwt, type VerifiedSignatureCache } from './jwt-verify.js';

/**
 * Asymmetric only. Listing them is what stops `alg: none` and the HMAC-keyed-with-the-public-key confusion: jose
 * refuses any header `alg` outside this list before it looks for a key.
 */
export const ISSUER_JWT_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519'];

/** Real ID, access and workload tokens are 1–8 KB; refusing anything far bigger keeps a hostile token from costing a parse. */
export const MAX_ISSUER_JWT_LENGTH = 32 * 1024;

export type IssuerJwtResult = { ok: true; payload: JWTPayload & { sub: string } } | { ok: false; reason: string };

export async function verifyIssuerJwt(
  token: string,
  opts: {
    issuer: string;
    audience: string | string[];
    getKey: JWTVerifyGetKey;
    clockSkewSeconds: number;
    nowMs: number;
    /** Signatures already verified with the key the key set gives now (a token presented again). */
    signatures?: VerifiedSignatureCache;
  },
): Promise<IssuerJwtResult> {
  if (token.length > MAX_ISSUER_JWT_LENGTH) return { ok: false, reason: `token longer than ${MAX_ISSUER_JWT_LENGTH} characters` };
  let payload: JWTPayload;
  try {
    ({ payload } = await verifyJwt(
      token,
      opts.getKey,
      {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: ISSUER_JWT_ALGORITHMS,
        clockTolerance: opts.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(opts.nowMs),
      },
      undefined,
      opts.signatures,
    ));
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) return { ok: false, reason: `${err.code}: ${err.message}` };
    return { ok: false, reason: `issuer keys unavailable: ${(err as Error).message}` };
  }
  // jose checks `iat` against the clock only when a maximum age is set; a token from the future means an issuer
  // clock far off or a forged timeline, and either way not a token to trust now.
  if (typeof payload.iat === 'number' && payload.iat > opts.nowMs / 1000 + opts.clockSkewSeconds)
    return { ok: false, reason: 'iat in the future' };
  const sub = payload.sub;
  // OIDC Core §2: `sub` is at most 255 ASCII characters. It becomes part of user ids, agent bindings, policies and
  // audit records, so control characters are refused rather than carried along.
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255 || /[^\x20-\x7e]/.test(sub)) {
    return { ok: false, reason: 'sub missing or not a printable ASCII string of 1-255 characters' };
  }
  return { ok: true, payload: payload as JWTPayload & { sub: string } };
}
