/**
 * The sub-agent of a delegation, authenticated as RFC 8693 actor. Two ways, neither needing a shared secret:
 * - an actor assertion: a JWT the sub-agent signs with a key of its registered JWKS (`iss` = `sub` = its agent id,
 *   `aud` Writ, short-lived, single-use `jti`) whose `cnf.jkt` names the DPoP key the child token is bound to —
 *   the sub-agent itself says which key it will prove possession with, so its parent cannot pick one for it;
 * - its workload-identity token, with the `dpop_jkt` request parameter naming the key (RFC 9449 §10's parameter):
 *   whoever holds a workload token can already act as that workload, so the holder choosing the key adds no power.
 * The actor must be active. Refusals are `invalid_request` (RFC 8693 §2.2.2: an invalid or unacceptable actor_token).
 */
import { TOKEN_TYPE } from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';
import { agentRefusal, type Agent } from '../../register/index.js';
import { resolveWorkloadAgent, type AgentAuthDeps } from './authenticate-agent.js';
import type { TokenRequestParams } from './parse-token-request.js';
import { unverifiedIssuer, verifyAgentAssertion } from './verify-agent-assertion.js';

/** An RFC 7638 SHA-256 thumbprint: 32 bytes, base64url without padding. */
const JKT = /^[A-Za-z0-9_-]{43}$/;

export interface SubAgent {
  agent: Agent;
  /** The thumbprint of the key the child token is bound to. */
  jkt: string;
  method: 'actor_assertion' | 'workload_identity';
}

export async function resolveSubAgent(params: TokenRequestParams, deps: AgentAuthDeps): Promise<SubAgent> {
  const token = params.actor_token;
  if (token === undefined) {
    throw new OAuthError('invalid_request', 'delegation needs the sub-agent as actor_token (an actor assertion or its workload token)');
  }
  const iss = unverifiedIssuer(token);
  const named = iss === undefined ? undefined : await deps.findAgent(iss);
  if (named !== undefined) {
    if (params.actor_token_type !== TOKEN_TYPE.jwt)
      throw invalidActor(`actor assertion with actor_token_type ${params.actor_token_type ?? ''}`);
    if (params.dpop_jkt !== undefined)
      throw new OAuthError('invalid_request', 'dpop_jkt goes with a workload actor_token; an actor assertion carries cnf.jkt');
    const result = await verifyAgentAssertion(token, named, deps);
    if (!result.ok) throw invalidActor(result.reason);
    const cnf = result.payload['cnf'] as { jkt?: unknown } | undefined;
    if (typeof cnf !== 'object' || cnf === null || typeof cnf.jkt !== 'string' || !JKT.test(cnf.jkt)) {
      throw invalidActor('actor assertion without a well-formed cnf.jkt');
    }
    const refusal = agentRefusal(named, deps.now());
    if (refusal !== null) throw invalidActor(`sub-agent: ${refusal.detail}`);
    return { agent: named, jkt: cnf.jkt, method: 'actor_assertion' };
  }
  const jkt = params.dpop_jkt;
  if (jkt === undefined || !JKT.test(jkt)) {
    throw new OAuthError('invalid_request', 'a workload actor_token needs dpop_jkt: the thumbprint of the key the sub-agent will use');
  }
  const { agent } = await resolveWorkloadAgent(token, params.actor_token_type ?? '', undefined, deps).catch((err: unknown) => {
    // An inactive sub-agent is the actor's problem, not the caller's client authentication.
    if (err instanceof OAuthError && err.error === 'invalid_client') throw invalidActor(err.detail ?? 'sub-agent not active');
    throw err;
  });
  return { agent, jkt, method: 'workload_identity' };
}

function invalidActor(detail: string): OAuthError {
  return new OAuthError('invalid_request', 'actor_token is invalid', { detail });
}
