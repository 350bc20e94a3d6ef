/**
 * Who the agent is, with no shared secret: `private_key_jwt` against its registered JWKS, or a workload-identity
 * token as RFC 8693 `actor_token` that an agent binding (workload issuer + subject pattern) maps to exactly one
 * registered agent. A suspended or offboarded agent gets nothing.
 */
import { OAuthError } from '../../errors/index.js';
import { matchesSubjectPattern, type WorkloadTokenVerifier } from '../../identity/index.js';
import type { Agent } from '../../register/index.js';
import { authenticateClient, requireActive, type ClientAuthDeps } from '../client-authentication.js';
import type { AssertionSpend } from './verify-agent-assertion.js';
import type { TokenRequestParams } from './parse-token-request.js';

export interface AgentAuthDeps extends ClientAuthDeps {
  workloads: WorkloadTokenVerifier;
  listAgents(): Promise<Agent[]>;
}

export interface AuthenticatedAgent {
  agent: Agent;
  method: 'private_key_jwt' | 'workload_identity';
  /** For workload identity: the issuer id and subject that vouched for the agent. */
  workload?: { issuer: string; sub: string };
  /**
   * For private_key_jwt: the assertion's `jti`, checked unspent but not yet spent. The caller spends it with the
   * token it issues, or on whatever refusal comes first (see authenticateClient).
   */
  spend?: AssertionSpend;
}

export async function authenticateAgent(params: TokenRequestParams, deps: AgentAuthDeps): Promise<AuthenticatedAgent> {
  if (params.client_assertion !== undefined && params.actor_token !== undefined) {
    throw new OAuthError('invalid_request', 'authenticate with client_assertion or with actor_token, not both');
  }
  if (params.actor_token !== undefined) {
    const { agent, issuer, sub } = await resolveWorkloadAgent(params.actor_token, params.actor_token_type ?? '', params.client_id, deps);
    return { agent, method: 'workload_identity', workload: { issuer, sub } };
  }
  const { agent, spend } = await authenticateClient(params, deps, { spend: 'with-issuance' });
  return { agent, method: 'private_key_jwt', ...(spend !== undefined ? { spend } : {}) };
}

/**
 * The registered agent a workload token stands for. Bindings may overlap (two agents on one service account); then
 * `client_id` must say which is meant, and one that is not bound to the token is refused.
 */
export async function resolveWorkloadAgent(
  token: string,
  tokenType: string,
  clientId: string | undefined,
  deps: Pick<AgentAuthDeps, 'workloads' | 'listAgents' | 'now'>,
): Promise<{ agent: Agent; issuer: string; sub: string }> {
  const workload = await deps.workloads.verify(token, tokenType);
  const bound = (await deps.listAgents()).filter(
    (a) =>
      (clientId === undefined || a.id === clientId) &&
      a.workload.some((b) => b.issuer === workload.issuerId && matchesSubjectPattern(b.subject, workload.sub)),
  );
  if (bound.length === 0) {
    throw new OAuthError('invalid_request', 'actor_token is invalid', {
      detail: `no agent${clientId !== undefined ? ` ${clientId}` : ''} is bound to ${workload.issuerId} subject ${workload.sub}`,
    });
  }
  if (bound.length > 1) {
    throw new OAuthError('invalid_request', 'several agents are bound to this workload; name one with client_id', {
      detail: `bound: ${bound.map((a) => a.id).join(', ')}`,
    });
  }
  const agent = bound[0] as Agent;
  requireActive(agent, deps.now());
  return { agent, issuer: workload.issuerId, sub: workload.sub };
}
