/**
 * Client authentication by `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the agent signs an
 * assertion with a key registered in its JWKS. The assertion's `jti` is single use (stored until it expires).
 */
import { CLIENT_ASSERTION_TYPE_JWT_BEARER } from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';
import type { Agent } from '../../register/index.js';
import type { TokenRequestParams } from './parse-token-request.js';
import { unverifiedIssuer, verifyAgentAssertion, type AgentAssertionDeps } from './verify-agent-assertion.js';

export interface ClientAuthDeps extends AgentAssertionDeps {
  findAgent(id: string): Promise<Agent | undefined>;
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
  const iss = unverifiedIssuer(assertion);
  if (iss === undefined) throw new OAuthError('invalid_client', 'client assertion is malformed', { detail: 'no iss' });
  if (params.client_id !== undefined && params.client_id !== iss) {
    throw new OAuthError('invalid_client', 'client_id does not match the client assertion');
  }
  const agent = await deps.findAgent(iss);
  if (agent === undefined) throw new OAuthError('invalid_client', 'client authentication failed', { detail: `unknown agent ${iss}` });
  const result = await verifyAgentAssertion(assertion, agent, deps);
  if (!result.ok) {
    throw new OAuthError(
      'invalid_client',
      result.replayed === true ? 'client assertion was already used' : 'client authentication failed',
      {
        detail: result.reason,
      },
    );
  }
  if (agent.status !== 'active') {
    throw new OAuthError('invalid_client', 'client is not active', { detail: `agent status ${agent.status}` });
  }
  return agent;
}
