/**
 * Enterprise-managed authorization: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523) with an
 * Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant) that the
 * organisation's identity provider issued for Writ: no browser, no consent page — the IdP's policy said yes, and
 * Writ's grants still decide. The assertion must be from a provider registered for ID-JAG, typed
 * `oauth-id-jag+jwt`, for Writ (`aud` its issuer or token endpoint), for this client (`client_id`), and is single
 * use (`jti`). What it asks for (`authorization_details`, else `scope` names the resource defines, else everything
 * the grants allow the client for the user) is narrowed by the grants; the result is a task token, no refresh token.
 */
import { ID_JAG, type TaskAuthorizationDetail } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';
import type { UserTokenVerifier } from '../identity/index.js';
import {
  evaluateIssuancePolicy,
  mintTaskToken,
  parseAuthorizationDetails,
  resolveResource,
  scopeDetails,
  spendAssertion,
  tokenEndpointProofKey,
  type IssuancePolicy,
} from '../token/index.js';
import { ClientProblem } from './clients.js';
import { consentChoices, type ToolLister } from './consent-choices.js';
import { single, type GrantAsker, type GrantContext, type StockTokenResponse, type TokenGrantDeps } from './token-grants.js';
import { userClaimsOf } from './user-claims.js';

export interface IdJagDeps extends TokenGrantDeps {
  tokenEndpoint: string;
  users: Pick<UserTokenVerifier, 'verifyIdJag'>;
  policy: IssuancePolicy;
  catalogue: ToolLister;
}

export async function idJagGrant(form: URLSearchParams, ctx: GrantContext, asker: GrantAsker, d: IdJagDeps): Promise<StockTokenResponse> {
  const p = single(form, ['assertion', 'client_id', 'scope']);
  if (form.has('client_assertion') || form.has('client_secret')) {
    throw new OAuthError('invalid_client', 'client authentication failed', { detail: 'public clients authenticate with none' });
  }
  if (p.assertion === undefined) throw new OAuthError('invalid_request', 'assertion is required');
  if (p.client_id === undefined) throw new OAuthError('invalid_request', 'client_id is required');
  let client;
  try {
    client = await d.clients.resolve(p.client_id);
  } catch (err) {
    if (err instanceof ClientProblem) throw new OAuthError('invalid_client', 'client authentication failed', { detail: err.detail });
    throw err;
  }
  asker.agentId = client.agent.id;
  const user = await d.users.verifyIdJag(p.assertion, [d.issuer, d.tokenEndpoint]);
  asker.userId = user.userId;
  if (user.clientId !== client.clientId) {
    throw new OAuthError('invalid_grant', 'the assertion is invalid', { detail: `issued for client ${user.clientId.slice(0, 200)}` });
  }
  if (client.agent.status !== 'active') {
    throw new OAuthError('invalid_grant', 'the assertion is invalid', { detail: `agent ${client.agent.id} is ${client.agent.status}` });
  }
  const claimed = user.claims['resource'];
  const fromClaim =
    typeof claimed === 'string' ? [claimed] : Array.isArray(claimed) ? claimed.filter((r): r is string => typeof r === 'string') : [];
  const { resource, uri } = await resolveResource(
    { resource: [...new Set([...fromClaim, ...form.getAll('resource')])], audience: [] },
    { publicUrl: d.issuer, findResource: d.findResource },
  );
  const jkt = ctx.dpop.length > 0 ? await tokenEndpointProofKey(ctx.dpop, d.proof) : null;
  if (jkt === null && !(resource.kind === 'mcp' && resource.mcp?.bearer.allowed === true)) {
    throw new OAuthError('invalid_dpop_proof', 'a DPoP proof is required', {
      detail: `resource ${resource.id} accepts DPoP-bound tokens only`,
    });
  }
  // Spent before anything is issued: presented twice, an assertion is refused the second time whatever happened.
  const spent = await spendAssertion(d.db, { key: `${ID_JAG.typ} ${user.issuer} ${user.jti}`, jti: user.jti, expiresAt: user.exp * 1000 });
  if (!spent) throw new OAuthError('invalid_grant', 'the assertion is invalid', { detail: `jti ${user.jti} replayed` });

  const requested = await requestedDetails(user.claims, p.scope, { resource, uri }, client.agent, user, d);
  const decision = await evaluateIssuancePolicy(
    { agent: client.agent, user, resource, resourceUri: uri, requested, scopes: [], purpose: '', depth: 0 },
    d.policy,
  );
  const lifetime = Math.min(
    d.settings.accessTokenLifetimeSeconds,
    d.maxLifetimeSeconds,
    jkt === null ? (resource.mcp?.bearer.maxLifetimeSeconds ?? 0) : Infinity,
  );
  const { token, claims } = await mintTaskToken(
    {
      issuer: d.issuer,
      userId: user.userId,
      userClaims: userClaimsOf(user.claims),
      agentId: client.agent.id,
      resourceId: resource.id,
      resourceUri: uri,
      jkt,
      purpose: 'enterprise-managed authorization (ID-JAG)',
      authorizationDetails: decision.granted,
      lifetimeSeconds: lifetime,
    },
    { db: d.db, keys: d.keys, now: d.now },
  );
  d.audit.record({
    type: 'token.issued',
    trace_id: ctx.traceId,
    task_id: claims.task_id,
    agent_id: client.agent.id,
    user_id: user.userId,
    actor_chain: [user.userId, client.agent.id],
    resource: resource.id,
    decision: 'allow',
    reason: decision.denied.length === 0 ? 'granted' : 'partially_granted',
    data: {
      grant_type: 'id-jag',
      client_id: client.clientId,
      assertion_issuer: user.issuer,
      assertion_jti: user.jti,
      jti: claims.jti,
      jkt,
      ...(jkt === null ? { bearer: true } : {}),
      grants: decision.reasons,
      granted: decision.granted,
      denied: decision.denied,
      exp: claims.exp,
    },
  });
  return {
    access_token: token,
    token_type: jkt === null ? 'Bearer' : 'DPoP',
    expires_in: claims.exp - claims.iat,
    authorization_details: decision.granted,
    task_id: claims.task_id,
  };
}

async function requestedDetails(
  claims: Readonly<Record<string, unknown>>,
  scopeParam: string | undefined,
  target: { resource: Parameters<typeof scopeDetails>[0]; uri: string },
  agent: Parameters<typeof consentChoices>[0]['agent'],
  user: Parameters<typeof consentChoices>[0]['user'],
  d: IdJagDeps,
): Promise<TaskAuthorizationDetail[]> {
  const rar = claims['authorization_details'];
  if (rar !== undefined) return parseAuthorizationDetails(JSON.stringify(rar), target.uri, target.resource.kind);
  const scope = typeof claims['scope'] === 'string' ? claims['scope'] : (scopeParam ?? '');
  const named = scope.split(' ').filter((s) => s !== '' && Object.hasOwn(target.resource.scopes, s));
  if (named.length > 0) return named.flatMap((n) => scopeDetails(target.resource, n, target.uri));
  const choices = await consentChoices(
    { agent, user, resource: target.resource, resourceUri: target.uri, scope: '' },
    { catalogue: d.catalogue, policy: d.policy },
  );
  if (choices.length === 0) throw new OAuthError('invalid_grant', 'no grant lets this client act for this user at this resource');
  return choices.flatMap((c) => c.details);
}
