/**
 * Token introspection (RFC 7662) and token revocation (RFC 7009) for Writ's task tokens. Both require client
 * authentication (`private_key_jwt`, as at the token endpoint). An agent may introspect or revoke only tokens it is an
 * actor of (the current actor or one of the chain), so an agent cannot read another agent's tokens.
 * Introspection answers `{"active": false}` and nothing else for anything invalid, expired, revoked or not the
 * caller's (RFC 7662 §2.2); revocation answers 200 whether or not the token was valid (RFC 7009 §2.2).
 */
import type { Kysely } from 'kysely';
import { actorsOf, type TaskTokenClaims } from '@writ/protocol';
import { verifyTaskToken, type RevocationSet, type TokenKeys } from '@writ/verify/internal';
import { OAuthError } from '../errors/index.js';
import type { Agent } from '../register/index.js';
import type { AuditPort } from '../audit/index.js';
import type { RevocationService } from '../revocation/index.js';
import type { Database } from '../storage/index.js';
import { authenticateClient, clientAuthParams, type ClientAuthParams } from './client-authentication.js';

export interface IntrospectionDeps {
  db: Kysely<Database>;
  issuer: string;
  /** Where client assertions for these endpoints may be addressed: the endpoint URL and the issuer. */
  audiences: string[];
  keys: TokenKeys;
  revocations: RevocationSet;
  revocationService: RevocationService;
  audit: AuditPort;
  findAgent(id: string): Promise<Agent | undefined>;
  clockSkewSeconds: number;
  now: () => number;
}

const HINTS = new Set(['access_token', 'refresh_token']);

function formParams(body: URLSearchParams): { token: string; hint: string | undefined; auth: ClientAuthParams } {
  for (const name of ['token', 'token_type_hint']) {
    if (body.getAll(name).length > 1) throw new OAuthError('invalid_request', `parameter ${name} repeated`);
  }
  const auth = clientAuthParams(body);
  const token = body.get('token');
  if (token === null || token === '') throw new OAuthError('invalid_request', 'token is required');
  return { token, hint: body.get('token_type_hint') ?? undefined, auth };
}

/** The calling agent, authenticated by the one client-authentication step (the jti spent at once). */
async function caller(auth: ClientAuthParams, deps: IntrospectionDeps): Promise<Agent> {
  const { agent } = await authenticateClient(auth, {
    db: deps.db,
    findAgent: deps.findAgent,
    audiences: deps.audiences,
    clockSkewSeconds: deps.clockSkewSeconds,
    now: deps.now,
  });
  return agent;
}

function actors(claims: TaskTokenClaims): Set<string> {
  return new Set<string>([claims.client_id, ...actorsOf(claims.act)]);
}

/** The token's claims if it is a valid, unrevoked Writ task token; otherwise undefined. */
function activeClaims(token: string, deps: IntrospectionDeps): TaskTokenClaims | undefined {
  try {
    const claims = verifyTaskToken(token, {
      issuer: deps.issuer,
      audience: null,
      keys: deps.keys,
      clockSkewSeconds: deps.clockSkewSeconds,
      now: () => deps.now() / 1000,
    });
    return deps.revocations.check(claims, claims.cnf?.jkt ?? '') === null ? claims : undefined;
  } catch {
    return undefined;
  }
}

export async function introspectToken(body: URLSearchParams, deps: IntrospectionDeps): Promise<Record<string, unknown>> {
  const { token, hint, auth } = formParams(body);
  const agent = await caller(auth, deps);
  // RFC 7662 §2.1: an unknown hint is ignored, not an error.
  void hint;
  const claims = activeClaims(token, deps);
  if (claims === undefined || !actors(claims).has(agent.id)) return { active: false };
  const { iss, sub, aud, client_id, act, authorization_details, cnf, jti, iat, exp, nbf, scope, task_id, task_chain, purpose, email } =
    claims;
  return {
    active: true,
    token_type: 'DPoP',
    iss,
    sub,
    aud,
    client_id,
    act,
    authorization_details,
    cnf,
    jti,
    iat,
    exp,
    ...(nbf !== undefined ? { nbf } : {}),
    ...(scope !== undefined ? { scope } : {}),
    task_id,
    task_chain,
    ...(purpose !== undefined ? { purpose } : {}),
    ...(email !== undefined ? { email } : {}),
  };
}

export async function revokeToken(body: URLSearchParams, deps: IntrospectionDeps): Promise<void> {
  const { token, hint, auth } = formParams(body);
  const agent = await caller(auth, deps);
  if (hint !== undefined && !HINTS.has(hint)) throw new OAuthError('unsupported_token_type', 'token_type_hint must be access_token');
  const claims = activeClaims(token, deps);
  // RFC 7009 §2.2: invalid tokens, and tokens of other clients, get the same 200 and nothing happens.
  if (claims === undefined || !actors(claims).has(agent.id)) {
    deps.audit.record({
      type: 'token.revoke_ignored',
      agent_id: agent.id,
      decision: 'deny',
      reason: claims === undefined ? 'token_not_active' : 'not_an_actor',
    });
    return;
  }
  await deps.revocationService.revoke(
    { type: 'token', jti: claims.jti },
    { reason: 'revoked by its client (RFC 7009)', actor: `agent:${agent.id}` },
  );
}
