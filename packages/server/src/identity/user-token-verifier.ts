/**
 * Verifies the user's token presented as RFC 8693 `subject_token`: a JWT from an identity provider Writ trusts
 * (issuer + JWKS URL, or OIDC discovery), for the audience registered for that provider, unexpired, signed with an
 * asymmetric algorithm by one of the provider's keys. RFC 8693 §2.2.2: an invalid or unacceptable subject token is
 * `invalid_request`. The public description is fixed so that the response tells a prober nothing; the precise reason
 * is the error's private `detail`, for the audit log.
 */
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';
import { createProviderKeys } from './provider-keys.js';

/** An identity provider Writ trusts (a row of `identity_providers`). */
export interface TrustedProvider {
  /** Writ's name for the provider; the prefix of every user id it vouches for. */
  id: string;
  /** Compared with the token's `iss` as an exact string (no normalisation). */
  issuer: string;
  /** Where the keys are, when `discovery` is false. */
  jwksUri: string | null;
  /** Take the JWKS URL from `${issuer}/.well-known/openid-configuration`. */
  discovery: boolean;
  /** What the token's `aud` must contain: for ID tokens, Writ's client id at the provider. */
  audience: string;
}

export interface VerifiedUser {
  /** Writ's user id: `<provider id>:<sub>`. */
  userId: string;
  providerId: string;
  sub: string;
  issuer: string;
  /** Every claim of the verified token. */
  claims: JWTPayload;
}

export interface UserTokenVerifier {
  /** Resolves to the user, or rejects with `OAuthError('invalid_request')` (detail: the reason). */
  verify(token: string, tokenType: string): Promise<VerifiedUser>;
  /** Forget cached discovery documents and keys (after the trusted providers changed). */
  invalidate(): void;
}

export interface UserTokenVerifierOptions {
  listProviders: () => Promise<TrustedProvider[]>;
  /** Used for discovery and JWKS requests. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Writ's clock, in milliseconds since the epoch. Default: `Date.now`. */
  now?: () => number;
  /** Tolerance for `exp`, `nbf` and `iat` against the provider's clock. Default 5 s. */
  clockSkewSeconds?: number;
  /** Minimum time between two JWKS refetches triggered by an unknown `kid`. Default 30 s. */
  kidRefetchCooldownMs?: number;
  /** How long a failed discovery or JWKS fetch is not retried. Default 10 s. */
  failureCooldownMs?: number;
}

/**
 * Token types a user's JWT can arrive as. An `access_token` is accepted only when it is a JWT (RFC 9068 or the
 * provider's own profile): an opaque one would need the provider's introspection, which Writ does not do.
 */
const ACCEPTED_TYPES: ReadonlySet<string> = new Set([TOKEN_TYPE.jwt, TOKEN_TYPE.idToken, TOKEN_TYPE.accessToken]);

/**
 * Asymmetric only. Listing them is what stops `alg: none` and the HMAC-keyed-with-the-public-key confusion: jose
 * refuses any header `alg` outside this list before it looks for a key.
 */
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519'];

/** Real ID tokens are 1–8 KB; refusing anything far bigger keeps a hostile token from costing a parse. */
const MAX_TOKEN_LENGTH = 32 * 1024;

const PUBLIC_DESCRIPTION = 'subject_token is invalid';

export function createUserTokenVerifier(opts: UserTokenVerifierOptions): UserTokenVerifier {
  const now = opts.now ?? Date.now;
  const skew = opts.clockSkewSeconds ?? 5;
  const keys = createProviderKeys({
    fetch: opts.fetch ?? fetch,
    ...(opts.kidRefetchCooldownMs !== undefined ? { kidRefetchCooldownMs: opts.kidRefetchCooldownMs } : {}),
    ...(opts.failureCooldownMs !== undefined ? { failureCooldownMs: opts.failureCooldownMs } : {}),
  });

  return {
    invalidate: () => keys.clear(),
    async verify(token, tokenType) {
      if (!ACCEPTED_TYPES.has(tokenType)) {
        throw new OAuthError('invalid_request', 'unsupported subject_token_type', { detail: `subject_token_type ${tokenType}` });
      }
      if (token.length > MAX_TOKEN_LENGTH) return fail(`token longer than ${MAX_TOKEN_LENGTH} characters`);
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(token);
      } catch {
        return fail('not a JWT');
      }
      // The unverified `iss` only chooses which keys to try; the signature check below is what makes it true.
      const iss = unverified.iss;
      if (typeof iss !== 'string') return fail('no iss');
      const provider = (await opts.listProviders()).find((p) => p.issuer === iss);
      if (provider === undefined) return fail('untrusted issuer');

      let getKey: JWTVerifyGetKey;
      try {
        getKey = await keys.keysFor(provider);
      } catch (err) {
        return fail(`provider keys unavailable: ${(err as Error).message}`);
      }
      const currentMs = now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: provider.issuer,
          audience: provider.audience,
          algorithms: ALGORITHMS,
          clockTolerance: skew,
          requiredClaims: ['sub', 'exp'],
          currentDate: new Date(currentMs),
        }));
      } catch (err) {
        if (err instanceof joseErrors.JOSEError) return fail(`${err.code}: ${err.message}`);
        return fail(`provider keys unavailable: ${(err as Error).message}`);
      }
      // jose checks `iat` against the clock only when a maximum age is set; a token from the future means a
      // provider clock far off or a forged timeline, and either way not a token to trust now.
      if (typeof payload.iat === 'number' && payload.iat > currentMs / 1000 + skew) return fail('iat in the future');
      const sub = payload.sub;
      // OIDC Core §2: `sub` is at most 255 ASCII characters. It becomes part of the user id in policies and audit
      // records, so control characters are refused rather than carried along.
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255 || /[^\x20-\x7e]/.test(sub)) {
        return fail('sub missing or not a printable ASCII string of 1-255 characters');
      }
      return { userId: `${provider.id}:${sub}`, providerId: provider.id, sub, issuer: provider.issuer, claims: payload };
    },
  };
}

function fail(detail: string): never {
  throw new OAuthError('invalid_request', PUBLIC_DESCRIPTION, { detail });
}
