/**
 * Client authentication by `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the agent signs an
 * assertion with a key registered in its JWKS. The assertion's `jti` is single use (stored until it expires).
 */
import { CLIENT_ASSERTION_TYPE_JWT_BEARER } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';
import { isRegisterId } from '../ids/index.js';
import { agentRefusal, type Agent } from '../register/index.js';
import type { TokenRequestParams } from './exchange/parse-token-request.js';
import {
  checkUnspentAgentAssertion,
  spendAssertion,
  unverifiedIssuer,
  verifyAgentAssertion,
  type AgentAssertionDeps,
  type AssertionSpend,
} from './exchange/verify-agent-assertion.js';

export interface ClientAuthDeps extends AgentAssertionDeps {
  findAgent(id: string): Promise<Agent | undefined>;
}

/** The client-authentication parameters of any token-service endpoint (token, introspection, revocation). */
export type ClientAuthParams = Pick<TokenRequestParams, 'client_id' | 'client_assertion' | 'client_assertion_type'>;

/**
 * The one client-authentication step of the token, introspection and revocation endpoints.
 *
 * `spend: 'now'` (introspection, revocation, a delegating parent): the assertion's `jti` is spent before this returns.
 * `spend: 'with-issuance'` (the token endpoint): the `jti` is checked unspent and returned; the caller spends it in its
 * own final transaction, with the task and token rows (one commit instead of two), and on every refusal that follows
 * (spendAssertion), so an assertion is never usable again once presented — the primary key lets at most one
 * transaction spend it. When this step itself refuses a client whose signature checked out, the `jti` is spent first.
 */
export async function authenticateClient(
  params: ClientAuthParams,
  deps: ClientAuthDeps,
  opts: { spend: 'now' | 'with-issuance' } = { spend: 'now' },
): Promise<{ agent: Agent; spend?: AssertionSpend }> {
  const agent = await assertionAgent(params, deps);
  if (opts.spend === 'now') {
    const result = await verifyAgentAssertion(params.client_assertion as string, agent, deps);
    if (!result.ok) throw refused(result);
    requireActive(agent, deps.now());
    return { agent };
  }
  const result = await checkUnspentAgentAssertion(params.client_assertion as string, agent, deps);
  if (!result.ok) throw refused(result);
  if (agentRefusal(agent, deps.now()) !== null) {
    if (!(await spendAssertion(deps.db, result.spend))) throw refused({ reason: `jti ${result.spend.jti} replayed`, replayed: true });
    requireActive(agent, deps.now());
  }
  return { agent, spend: result.spend };
}

/** The client-authentication parameters of an endpoint's form, each at most once (RFC 6749 §3.2). */
export function clientAuthParams(body: URLSearchParams): ClientAuthParams {
  const auth: ClientAuthParams = {};
  for (const name of ['client_id', 'client_assertion', 'client_assertion_type'] as const) {
    const values = body.getAll(name);
    if (values.length > 1) throw new OAuthError('invalid_request', `parameter ${name} repeated`);
    const v = values[0];
    if (v !== undefined && v !== '') auth[name] = v;
  }
  return auth;
}

async function assertionAgent(params: ClientAuthParams, deps: ClientAuthDeps): Promise<Agent> {
  if (params.client_assertion_type !== CLIENT_ASSERTION_TYPE_JWT_BEARER || params.client_assertion === undefined) {
    throw new OAuthError('invalid_client', 'client authentication by private_key_jwt is required', {
      detail: 'missing or unsupported client_assertion_type',
    });
  }
  const iss = unverifiedIssuer(params.client_assertion);
  if (iss === undefined) throw new OAuthError('invalid_client', 'client assertion is malformed', { detail: 'no iss' });
  if (params.client_id !== undefined && params.client_id !== iss) {
    throw new OAuthError('invalid_client', 'client_id does not match the client assertion');
  }
  // Only a well-formed agent id is looked up: anything else (a NUL, a path, 10 KB) names no agent.
  if (!isRegisterId(iss)) throw new OAuthError('invalid_client', 'client authentication failed', { detail: 'iss is not an agent id' });
  const agent = await deps.findAgent(iss);
  if (agent === undefined) throw new OAuthError('invalid_client', 'client authentication failed', { detail: `unknown agent ${iss}` });
  return agent;
}

export function refused(result: { reason: string; replayed?: boolean }): OAuthError {
  return new OAuthError('invalid_client', result.replayed === true ? 'client assertion was already used' : 'client authentication failed', {
    detail: result.reason,
  });
}

/** An agent that is not active, or whose registration has ended, is not a client that may authenticate. */
export function requireActive(agent: Agent, nowMs: number): void {
  const refusal = agentRefusal(agent, nowMs);
  if (refusal === null) return;
  throw new OAuthError('invalid_client', refusal.kind === 'expired' ? "the client's registration has ended" : 'client is not active', {
    detail: refusal.detail,
  });
}
