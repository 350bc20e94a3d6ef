/**
 * Verifies the user's token presented as RFC 8693 `subject_token`: a JWT from an identity provider Writ trusts
 * (issuer + JWKS URL, or OIDC discovery), for the audience registered for that provider, unexpired, signed with an
 * asymmetric algorithm by one of the provider's keys. RFC 8693 §2.2.2: an invalid or unacceptable subject token is
 * `invalid_request`. The public description is fixed; the reason goes to the audit log.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';

export interface TrustedProvider {
  id: string;
  issuer: string;
  jwksUri: string | null;
  discovery: boolean;
  audience: string;
}

export interface VerifiedUser {
  /** Writ's user id: `<provider id>:<sub>`. */
  userId: string;
  providerId: string;
  sub: string;
  issuer: string;
  claims: JWTPayload;
}

export interface UserTokenVerifier {
  verify(token: string, tokenType: string): Promise<VerifiedUser>;
  /** Forget cached provider metadata and keys (after the trusted providers changed). */
  invalidate(): void;
}

const ACCEPTED_TYPES = new Set<string>([TOKEN_TYPE.jwt, TOKEN_TYPE.idToken, TOKEN_TYPE.accessToken]);
const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

export function createUserTokenVerifier(opts: {
  listProviders: () => Promise<TrustedProvider[]>;
  clockSkewSeconds?: number;
  now?: () => number;
  fetch?: typeof fetch;
}): UserTokenVerifier {
  const doFetch = opts.fetch ?? fetch;
  const jwks = new Map<string, Promise<ReturnType<typeof createRemoteJWKSet>>>();

  const keysFor = (p: TrustedProvider): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    const cacheKey = `${p.id} ${p.issuer} ${p.jwksUri ?? ''} ${p.discovery}`;
    let entry = jwks.get(cacheKey);
    if (entry === undefined) {
      entry = (async () => {
        let uri = p.jwksUri;
        if (p.discovery) {
          const res = await doFetch(`${p.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
            headers: { accept: 'application/json' },
            signal: AbortSignal.timeout(5000),
          });
          if (!res.ok) throw new Error(`discovery failed: HTTP ${res.status}`);
          const meta = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
          // OIDC Discovery §4.3: the document's issuer must be exactly the configured one.
          if (meta.issuer !== p.issuer) throw new Error(`discovery issuer ${String(meta.issuer)} is not ${p.issuer}`);
          if (typeof meta.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
          uri = meta.jwks_uri;
        }
        if (uri === null) throw new Error('provider has no JWKS URL');
        const url = new URL(uri);
        if (!secureEnough(url)) throw new Error(`JWKS URL ${uri} must be https (http only on loopback)`);
        // jose refetches on an unknown kid, at most once per cooldown, and caches between.
        return createRemoteJWKSet(url, { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5000 });
      })();
      entry.catch(() => jwks.delete(cacheKey));
      jwks.set(cacheKey, entry);
    }
    return entry;
  };

  return {
    invalidate: () => jwks.clear(),
    async verify(token, tokenType) {
      const fail = (detail: string): never => {
        throw new OAuthError('invalid_request', 'subject_token is invalid', { detail });
      };
      if (!ACCEPTED_TYPES.has(tokenType)) {
        throw new OAuthError('invalid_request', 'unsupported subject_token_type', { detail: tokenType });
      }
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(token);
      } catch {
        return fail('not a JWT');
      }
      const providers = await opts.listProviders();
      const provider = providers.find((p) => p.issuer === unverified.iss);
      if (provider === undefined) return fail(`untrusted issuer ${String(unverified.iss)}`);
      if (!secureEnough(new URL(provider.issuer))) return fail('provider issuer must be https (http only on loopback)');
      let payload: JWTPayload;
      try {
        const keys = await keysFor(provider);
        ({ payload } = await jwtVerify(token, keys, {
          issuer: provider.issuer,
          audience: provider.audience,
          algorithms: ALGORITHMS,
          clockTolerance: opts.clockSkewSeconds ?? 5,
          requiredClaims: ['sub', 'exp'],
          ...(opts.now !== undefined ? { currentDate: new Date(opts.now()) } : {}),
        }));
      } catch (err) {
        return fail(
          err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : `provider keys unavailable: ${(err as Error).message}`,
        );
      }
      if (typeof payload.iat === 'number' && payload.iat > (opts.now?.() ?? Date.now()) / 1000 + (opts.clockSkewSeconds ?? 5))
        return fail('iat in the future');
      const sub = payload.sub as string;
      return { userId: `${provider.id}:${sub}`, providerId: provider.id, sub, issuer: provider.issuer, claims: payload };
    },
  };
}

function secureEnough(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const h = url.hostname;
  return h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
