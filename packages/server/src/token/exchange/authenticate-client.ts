/**
 * Client authentication by `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the agent signs an
 * assertion with a key registered in its JWKS. The assertion's `jti` is single use (stored until it expires).
 */
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { Kysely } from 'kysely';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER } from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';
import type { Agent } from '../../register/index.js';
import type { Database } from '../../storage/index.js';
import type { TokenRequestParams } from './parse-token-request.js';

/** Assertions valid for longer than this are refused, which bounds how long their `jti`s must be remembered. */
const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const ASSERTION_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'];

export interface ClientAuthDeps {
  db: Kysely<Database>;
  findAgent(id: string): Promise<Agent | undefined>;
  /** Values the assertion's `aud` may hold: the token endpoint URL and the issuer identifier. */
  audiences: string[];
  clockSkewSeconds: number;
  now: () => number;
}

/** The client-authentication parameters of any token-service endpoint (token, introspection, revocation). */
export type ClientAuthParams = Pick<TokenRequestParams, 'client_id' | 'client_assertion' | 'client_assertion_type'>;

export async function authenticateClient(params: ClientAuthParams, deps: ClientAuthDeps): Promise<Agent> {
  if (params.client_assertion_type !== CLIENT_ASSERTION_TYPE_JWT_BEARER || params.client_assertion === undefined) {
    throw new OAuthError('invalid_client', 'client authentication by private_key_jwt is required', {
      detail: 'missing or unsupported client_assertion_type',
    });
  }
  const assertion = params.client_assertion;
  let unverifiedIss: unknown;
  try {
    const payload = assertion.split('.')[1] ?? '';
    unverifiedIss = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown }).iss;
  } catch {
    throw new OAuthError('invalid_client', 'client assertion is malformed');
  }
  if (typeof unverifiedIss !== 'string') throw new OAuthError('invalid_client', 'client assertion is malformed', { detail: 'no iss' });
  if (params.client_id !== undefined && params.client_id !== unverifiedIss) {
    throw new OAuthError('invalid_client', 'client_id does not match the client assertion');
  }
  const agent = await deps.findAgent(unverifiedIss);
  if (agent === undefined)
    throw new OAuthError('invalid_client', 'client authentication failed', { detail: `unknown agent ${unverifiedIss}` });
  const nowSec = Math.floor(deps.now() / 1000);
  let payload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(agent.jwks), {
      issuer: agent.id,
      subject: agent.id,
      audience: deps.audiences,
      algorithms: ASSERTION_ALGS,
      clockTolerance: deps.clockSkewSeconds,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(deps.now()),
    }));
  } catch (err) {
    const reason = err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : String(err);
    throw new OAuthError('invalid_client', 'client authentication failed', { detail: reason });
  }
  const exp = payload.exp as number;
  if (exp - nowSec > MAX_ASSERTION_LIFETIME_SECONDS) {
    throw new OAuthError('invalid_client', 'client assertion lifetime too long', { detail: `exp ${exp - nowSec}s ahead` });
  }
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) {
    throw new OAuthError('invalid_client', 'client assertion jti invalid');
  }
  try {
    await deps.db
      .insertInto('client_assertions')
      .values({ key: `${agent.id} ${payload.jti}`, expires_at: (exp + deps.clockSkewSeconds) * 1000 })
      .execute();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      throw new OAuthError('invalid_client', 'client assertion was already used', { detail: `jti ${payload.jti} replayed` });
    }
    throw err;
  }
  if (agent.status !== 'active') {
    throw new OAuthError('invalid_client', 'client is not active', { detail: `agent status ${agent.status}` });
  }
  return agent;
}
