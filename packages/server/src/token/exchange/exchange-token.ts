/**
 * The token endpoint's token exchange (RFC 8693) as an ordered list of named steps, each its own module:
 * parse → authenticate the agent → check the DPoP proof → validate the user's token → resolve the resource →
 * parse authorization details → issuance-time policy → mint. Every outcome is audited.
 */
import { TOKEN_TYPE, type TokenExchangeResponse } from '@writ/protocol';
import { verifyDpopProof, type DpopNonces, type ReplayCache } from '@writ/verify';
import { OAuthError } from '../../errors/index.js';
import type { Agent, AuditPort, Resource } from '../../register/index.js';
import type { PolicyEngine } from '../../policy/index.js';
import type { UserTokenVerifier } from '../../identity/index.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/index.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { parseTokenRequest } from './parse-token-request.js';
import { authenticateClient } from './authenticate-client.js';
import { resolveResource } from './resolve-resource.js';
import { parseAuthorizationDetails } from './parse-authorization-details.js';
import { evaluateIssuancePolicy } from './evaluate-issuance-policy.js';
import { mintTaskToken } from './mint-task-token.js';

export interface TokenServiceDeps {
  db: Kysely<Database>;
  issuer: string;
  tokenEndpoint: string;
  keys: SigningKeys;
  policy: PolicyEngine;
  users: UserTokenVerifier;
  replay: ReplayCache;
  audit: AuditPort;
  findAgent(id: string): Promise<Agent | undefined>;
  findResource(id: string): Promise<Resource | undefined>;
  defaultLifetimeSeconds: number;
  maxLifetimeSeconds: number;
  clockSkewSeconds: number;
  proofMaxAgeSeconds: number;
  dpopAlgs: readonly string[];
  /** When set, proofs must carry a current server nonce; missing or stale → `use_dpop_nonce` (RFC 9449 §8). */
  nonces?: DpopNonces;
  now: () => number;
}

export interface TokenRequestContext {
  body: URLSearchParams;
  dpop: string[];
  traceId: string;
}

export async function exchangeToken(ctx: TokenRequestContext, deps: TokenServiceDeps): Promise<TokenExchangeResponse> {
  let agentId: string | undefined;
  let userId: string | undefined;
  try {
    const params = parseTokenRequest(ctx.body);
    const agent = await authenticateClient(params, {
      db: deps.db,
      findAgent: deps.findAgent,
      audiences: [deps.tokenEndpoint, deps.issuer],
      clockSkewSeconds: deps.clockSkewSeconds,
      now: deps.now,
    });
    agentId = agent.id;
    let jkt: string;
    try {
      ({ jkt } = await verifyDpopProof(ctx.dpop, {
        method: 'POST',
        url: deps.tokenEndpoint,
        replay: deps.replay,
        algorithms: deps.dpopAlgs,
        maxAgeSeconds: deps.proofMaxAgeSeconds,
        clockSkewSeconds: deps.clockSkewSeconds,
        now: () => deps.now() / 1000,
        ...(deps.nonces !== undefined ? { checkNonce: deps.nonces.check } : {}),
      }));
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERR_DPOP_MALFORMED';
      if (code === 'ERR_DPOP_NONCE' && deps.nonces !== undefined) {
        throw new OAuthError('use_dpop_nonce', 'Authorization server requires nonce in DPoP proof', {
          headers: { 'DPoP-Nonce': deps.nonces.current() },
        });
      }
      throw new OAuthError('invalid_dpop_proof', code === 'ERR_DPOP_MISSING' ? 'a DPoP proof is required' : 'DPoP proof is invalid', {
        detail: `${code}: ${(err as { detail?: string }).detail ?? ''}`,
      });
    }
    const user = await deps.users.verify(params.subject_token as string, params.subject_token_type as string);
    userId = user.userId;
    const { resource, uri } = await resolveResource(params, { publicUrl: deps.issuer, findResource: deps.findResource });
    const requested = parseAuthorizationDetails(params.authorization_details, uri);
    const purpose = (params.purpose ?? '').slice(0, 500);
    const decision = await evaluateIssuancePolicy({ agent, user, resource, resourceUri: uri, requested, purpose, depth: 0 }, deps.policy);
    const lifetime = Math.min(deps.defaultLifetimeSeconds, deps.maxLifetimeSeconds);
    const { token, claims } = await mintTaskToken(
      {
        issuer: deps.issuer,
        userId: user.userId,
        agentId: agent.id,
        resourceId: resource.id,
        resourceUri: uri,
        jkt,
        purpose,
        authorizationDetails: decision.granted,
        lifetimeSeconds: lifetime,
      },
      { db: deps.db, keys: deps.keys, now: deps.now },
    );
    deps.audit.record({
      type: 'token.issued',
      trace_id: ctx.traceId,
      task_id: claims.task_id,
      agent_id: agent.id,
      user_id: user.userId,
      actor_chain: [user.userId, agent.id],
      resource: resource.id,
      decision: 'allow',
      reason: decision.denied.length === 0 ? 'granted' : 'partially_granted',
      data: {
        jti: claims.jti,
        jkt,
        purpose,
        grants: decision.reasons,
        granted: decision.granted,
        denied: decision.denied.map((a) => `${a.method} ${a.path}`),
        exp: claims.exp,
      },
    });
    return {
      access_token: token,
      issued_token_type: TOKEN_TYPE.accessToken,
      token_type: 'DPoP',
      expires_in: claims.exp - claims.iat,
      authorization_details: decision.granted,
      task_id: claims.task_id,
    };
  } catch (err) {
    const e =
      err instanceof OAuthError ? err : new OAuthError('server_error', 'internal error', { detail: String((err as Error)?.stack ?? err) });
    deps.audit.record({
      type: 'token.denied',
      trace_id: ctx.traceId,
      ...(agentId !== undefined ? { agent_id: agentId } : {}),
      ...(userId !== undefined ? { user_id: userId } : {}),
      decision: 'deny',
      reason: e.error,
      detail: `${e.description}${e.detail !== undefined ? ` (${e.detail})` : ''}`,
    });
    throw e;
  }
}
