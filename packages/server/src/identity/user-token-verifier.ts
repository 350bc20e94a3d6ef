/**
 * Verifies the user's token presented as RFC 8693 `subject_token`: a JWT from an identity provider Writ trusts
 * (issuer + JWKS URL, or OIDC discovery), for the audience registered for that provider, unexpired, signed with an
 * asymmetric algorithm by one of the provider's keys. RFC 8693 §2.2.2: an invalid or unacceptable subject token is
 * `invalid_request`. The public description is fixed so that the response tells a prober nothing; the precise reason
 * is the error's private `detail`, for the audit log.
 */
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { MAX_ISSUER_JWT_LENGTH, verifyIssuerJwt } from './verify-issuer-jwt.js';
import { ID_JAG, TOKEN_TYPE } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';
import { createProviderKeys } from './provider-keys.js';
import { VerifiedSignatureCache } from './jwt-verify.js';

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
  /** The `subject_token_type`s this provider's tokens may arrive as; absent: all three JWT types. */
  tokenTypes?: readonly string[];
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
  /**
   * An Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant §4.3): `typ`
   * `oauth-id-jag+jwt`, from a provider registered for ID-JAG (its token types name it), `aud` one of `audiences`,
   * `jti`, `iat`, `exp` and `client_id` present. Rejects with `OAuthError('invalid_grant')`.
   */
  verifyIdJag(token: string, audiences: readonly string[]): Promise<VerifiedUser & { jti: string; exp: number; clientId: string }>;
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

const PUBLIC_DESCRIPTION = 'subject_token is invalid';

export function createUserTokenVerifier(opts: UserTokenVerifierOptions): UserTokenVerifier {
  const now = opts.now ?? Date.now;
  const skew = opts.clockSkewSeconds ?? 5;
  // A user's token starts many tasks: its signature is checked once per key that verifies it (see jwt-verify.ts).
  const signatures = new VerifiedSignatureCache();
  const keys = createProviderKeys({
    fetch: opts.fetch ?? fetch,
    ...(opts.kidRefetchCooldownMs !== undefined ? { kidRefetchCooldownMs: opts.kidRefetchCooldownMs } : {}),
    ...(opts.failureCooldownMs !== undefined ? { failureCooldownMs: opts.failureCooldownMs } : {}),
  });

  const verifyIdJag: UserTokenVerifier['verifyIdJag'] = async (token, audiences) => {
    const refuse = (detail: string): never => {
      throw new OAuthError('invalid_grant', 'the assertion is invalid', { detail });
    };
    if (token.length > MAX_ISSUER_JWT_LENGTH) return refuse('assertion too long');
    let typ: unknown;
    let unverified: JWTPayload;
    try {
      typ = decodeProtectedHeader(token).typ;
      unverified = decodeJwt(token);
    } catch {
      return refuse('not a JWT');
    }
    if (typeof typ !== 'string' || typ.toLowerCase() !== ID_JAG.typ) return refuse(`typ ${String(typ)} is not ${ID_JAG.typ}`);
    const provider = (await opts.listProviders()).find((p) => p.issuer === unverified.iss);
    if (provider === undefined) return refuse(`untrusted issuer ${String(unverified.iss).slice(0, 200)}`);
    if (!(provider.tokenTypes ?? []).includes(ID_JAG.tokenType)) return refuse(`provider ${provider.id} is not trusted for ID-JAG`);
    let getKey: JWTVerifyGetKey;
    try {
      getKey = await keys.keysFor(provider);
    } catch (err) {
      return refuse(`provider keys unavailable: ${(err as Error).message}`);
    }
    const checked = await verifyIssuerJwt(token, {
      issuer: provider.issuer,
      audience: [...audiences],
      getKey,
      clockSkewSeconds: skew,
      nowMs: now(),
      signatures,
    });
    if (!checked.ok) return refuse(checked.reason);
    const { payload } = checked;
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 200) return refuse('no jti');
    if (typeof payload.iat !== 'number') return refuse('no iat');
    const clientId = payload['client_id'];
    if (typeof clientId !== 'string' || clientId === '') return refuse('no client_id');
    return {
      userId: `${provider.id}:${payload.sub}`,
      providerId: provider.id,
      sub: payload.sub,
      issuer: provider.issuer,
      claims: payload,
      jti: payload.jti,
      exp: payload.exp as number,
      clientId,
    };
  };

  return {
    verifyIdJag,
    invalidate: () => keys.clear(),
    async verify(token, tokenType) {
      if (!ACCEPTED_TYPES.has(tokenType)) {
        throw new OAuthError('invalid_request', 'unsupported subject_token_type', { detail: `subject_token_type ${tokenType}` });
      }
      if (token.length > MAX_ISSUER_JWT_LENGTH) return fail(`token longer than ${MAX_ISSUER_JWT_LENGTH} characters`);
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
      if (provider.tokenTypes !== undefined && !provider.tokenTypes.includes(tokenType)) {
        return fail(`provider ${provider.id} does not accept subject_token_type ${tokenType}`);
      }

      let getKey: JWTVerifyGetKey;
      try {
        getKey = await keys.keysFor(provider);
      } catch (err) {
        return fail(`provider keys unavailable: ${(err as Error).message}`);
      }
      const checked = await verifyIssuerJwt(token, {
        issuer: provider.issuer,
        audience: provider.audience,
        getKey,
        clockSkewSeconds: skew,
        nowMs: now(),
        signatures,
      });
      if (!checked.ok) return fail(checked.reason);
      const { payload } = checked;
      const sub = payload.sub;
      return { userId: `${provider.id}:${sub}`, providerId: provider.id, sub, issuer: provider.issuer, claims: payload };
    },
  };
}

function fail(detail: string): never {
  throw new OAuthError('invalid_request', PUBLIC_DESCRIPTION, { detail });
}
