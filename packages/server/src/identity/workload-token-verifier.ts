/**
 * Workload identity: an agent proves who it is with a token its platform gave it — a Kubernetes projected
 * service-account token, a SPIFFE JWT-SVID, a CI system's OIDC token — presented as RFC 8693 `actor_token`, so it
 * holds no secret of Writ's. The token must come from a trusted workload issuer (exact `iss`), be signed by one of
 * that issuer's keys, carry the issuer's configured audience, expire, and name a subject of the issuer's kind.
 * Which agent it stands for is the register's business (agent bindings: issuer + subject pattern), not this module's.
 *
 * Tokens without `exp` (legacy Kubernetes secret-based service-account tokens) are refused: a credential that never
 * expires is what Writ exists to replace.
 */
import { createLocalJWKSet, decodeJwt, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { TOKEN_TYPE } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';
import { createProviderKeys } from './provider-keys.js';
import { VerifiedSignatureCache } from './jwt-verify.js';
import { MAX_ISSUER_JWT_LENGTH, verifyIssuerJwt } from './verify-issuer-jwt.js';

export interface TrustedWorkloadIssuer {
  id: string;
  kind: 'kubernetes' | 'spiffe' | 'oidc';
  issuer: string;
  jwksUri: string | null;
  discovery: boolean;
  jwks: { keys: Record<string, unknown>[] } | null;
  audience: string;
}

export interface VerifiedWorkload {
  issuerId: string;
  sub: string;
  claims: JWTPayload;
}

export interface WorkloadTokenVerifier {
  /** Resolves to the workload's identity, or rejects with `OAuthError('invalid_request')` (detail: the reason). */
  verify(token: string, tokenType: string): Promise<VerifiedWorkload>;
  /** Whether the token claims to come from a trusted workload issuer (unverified: only to route the request). */
  claimsTrustedIssuer(token: string): Promise<boolean>;
  invalidate(): void;
}

/** Workload tokens are JWTs; Kubernetes and CI tokens are often labelled as ID tokens by the clients that send them. */
const ACCEPTED_TYPES: ReadonlySet<string> = new Set([TOKEN_TYPE.jwt, TOKEN_TYPE.idToken]);

const KUBERNETES_SUBJECT = /^system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;
/** SPIFFE ID (SPIFFE-ID §2): `spiffe://` trust domain, then a path; no query, fragment, port or userinfo. */
const SPIFFE_SUBJECT = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/;

const PUBLIC_DESCRIPTION = 'actor_token is invalid';

export function createWorkloadTokenVerifier(opts: {
  listIssuers: () => Promise<TrustedWorkloadIssuer[]>;
  fetch?: typeof fetch;
  now?: () => number;
  clockSkewSeconds?: number;
}): WorkloadTokenVerifier {
  const now = opts.now ?? Date.now;
  const skew = opts.clockSkewSeconds ?? 5;
  const remote = createProviderKeys({ fetch: opts.fetch ?? fetch });
  // Workload tokens are presented again and again (a service account's projected token lives for an hour).
  const signatures = new VerifiedSignatureCache();
  const local = new Map<string, JWTVerifyGetKey>();

  function keysOf(i: TrustedWorkloadIssuer): Promise<JWTVerifyGetKey> {
    if (i.jwks === null) return remote.keysFor(i);
    const cacheKey = JSON.stringify([i.id, i.issuer, i.jwks]);
    let set = local.get(cacheKey);
    if (set === undefined) {
      set = createLocalJWKSet(i.jwks);
      local.set(cacheKey, set);
    }
    return Promise.resolve(set);
  }

  async function issuerOf(token: string): Promise<TrustedWorkloadIssuer | undefined> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    if (typeof iss !== 'string') return undefined;
    return (await opts.listIssuers()).find((i) => i.issuer === iss);
  }

  return {
    invalidate() {
      remote.clear();
      local.clear();
    },
    async claimsTrustedIssuer(token) {
      return token.length <= MAX_ISSUER_JWT_LENGTH && (await issuerOf(token)) !== undefined;
    },
    async verify(token, tokenType) {
      if (!ACCEPTED_TYPES.has(tokenType)) fail(`actor_token_type ${tokenType} is not a workload token type`);
      if (token.length > MAX_ISSUER_JWT_LENGTH) fail(`token longer than ${MAX_ISSUER_JWT_LENGTH} characters`);
      // The unverified `iss` only chooses which keys to try; the signature check is what makes it true.
      const issuer = await issuerOf(token);
      if (issuer === undefined) fail('not a JWT from a trusted workload issuer');
      let getKey: JWTVerifyGetKey;
      try {
        getKey = await keysOf(issuer);
      } catch (err) {
        fail(`workload issuer keys unavailable: ${(err as Error).message}`);
      }
      const checked = await verifyIssuerJwt(token, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        getKey,
        clockSkewSeconds: skew,
        nowMs: now(),
        signatures,
      });
      if (!checked.ok) fail(checked.reason);
      const sub = checked.payload.sub;
      if (issuer.kind === 'kubernetes' && !KUBERNETES_SUBJECT.test(sub)) fail(`sub ${sub} is not a Kubernetes service account`);
      if (issuer.kind === 'spiffe' && !SPIFFE_SUBJECT.test(sub)) fail(`sub ${sub} is not a SPIFFE ID`);
      return { issuerId: issuer.id, sub, claims: checked.payload };
    },
  };
}

function fail(detail: string): never {
  throw new OAuthError('invalid_request', PUBLIC_DESCRIPTION, { detail });
}
