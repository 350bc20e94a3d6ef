/**
 * The token endpoint's token exchange (RFC 8693) as ordered steps, each its own module. Two flows, told apart by
 * the subject token:
 * - a user's token from a trusted identity provider → a root task: authenticate the agent (`private_key_jwt` or a
 *   workload `actor_token`) → the DPoP proof of the key the token is bound to → the user's token → the resource →
 *   the requested details → issuance-time policy → mint;
 * - a Writ task token → a child task for a sub-agent (delegation): the parent's token and its proof (the gateway's
 *   own check) → the sub-agent as actor → depth bound → `delegate` grant → the resource (the parent's) → details
 *   that are a subset of the parent's → issuance-time policy for the sub-agent → mint, never outliving the parent.
 * Every outcome is audited.
 */
import { TOKEN_TYPE, accessDetails, budgetOf, type ActorClaim, type TaskTokenClaims, type TokenExchangeResponse } from '@writ/protocol';
import { isSubsetOf, verifyDpopProof, type CheckCallContext, type DpopNonces, type ReplayCache } from '@writ/verify/internal';
import type { Kysely } from 'kysely';
import { asOAuthError, OAuthError } from '../../errors/index.js';
import { agentRefusal, type Agent, type Resource } from '../../register/index.js';
import type { AuditPort } from '../../audit/index.js';
import { delegateRequest, userAttrsOf } from '../../policy/index.js';
import type { UserTokenVerifier, VerifiedUser, WorkloadTokenVerifier } from '../../identity/index.js';
import type { Database } from '../../storage/index.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { parseTokenRequest, type TokenRequestParams } from './parse-token-request.js';
import { authenticateAgent, type AuthenticatedAgent } from './authenticate-agent.js';
import { authenticateClient, refused } from '../client-authentication.js';
import { resolveResource } from './resolve-resource.js';
import { parseRequestedDetails } from './parse-authorization-details.js';
import { evaluateIssuancePolicy, type IssuancePolicy } from './evaluate-issuance-policy.js';
import { mintTaskToken } from './mint-task-token.js';
import { checkParentToken } from './check-parent-token.js';
import { resolveSubAgent } from './resolve-sub-agent.js';
import { isAlreadySpent, spendAssertion, unverifiedIssuer } from './verify-agent-assertion.js';

export interface TokenServiceDeps {
  db: Kysely<Database>;
  issuer: string;
  tokenEndpoint: string;
  keys: SigningKeys;
  /** The policy engine, or (in the server) the issuance-decision cache in front of it. */
  policy: IssuancePolicy;
  users: UserTokenVerifier;
  workloads: WorkloadTokenVerifier;
  replay: ReplayCache;
  audit: AuditPort;
  findAgent(id: string): Promise<Agent | undefined>;
  listAgents(): Promise<Agent[]>;
  findResource(id: string): Promise<Resource | undefined>;
  /** The per-call check the gateway runs, used on a parent's task token in delegation. */
  check: Omit<CheckCallContext, 'audience'>;
  defaultLifetimeSeconds: number;
  maxLifetimeSeconds: number;
  /** Sub-agent levels below a root task; a child at a greater depth is refused. */
  maxDelegationDepth: number;
  clockSkewSeconds: number;
  proofMaxAgeSeconds: number;
  dpopAlgs: readonly string[];
  /** When set, proofs must carry a current server nonce; missing or stale → `use_dpop_nonce` (RFC 9449 §8). */
  nonces?: DpopNonces;
  now: () => number;
  /** Notes that an agent obtained a token (its `last_used_at`, written in batches). */
  agentUsed?(agentId: string, at: number): void;
  /** Told of every error that is not a planned refusal (the store failing, a bug): the process log, with its stack. */
  onUnexpected?(err: unknown, traceId: string): void;
}

export interface TokenRequestContext {
  body: URLSearchParams;
  dpop: string[];
  traceId: string;
  /** The caller's address: recorded when the refusal comes before the agent is known. */
  source?: string;
}

/** What the audit record of a refusal can say about who asked. */
export interface Asker {
  agentId?: string;
  userId?: string;
  taskId?: string;
}

export async function exchangeToken(ctx: TokenRequestContext, deps: TokenServiceDeps): Promise<TokenExchangeResponse> {
  const asker: Asker = {};
  try {
    const params = parseTokenRequest(ctx.body);
    const subjectIssuer = unverifiedIssuer(params.subject_token as string);
    return subjectIssuer === deps.issuer && params.subject_token_type === TOKEN_TYPE.accessToken
      ? await delegate(params, ctx, deps, asker)
      : await issueForUser(params, ctx, deps, asker);
  } catch (err) {
    if (!(err instanceof OAuthError)) deps.onUnexpected?.(err, ctx.traceId);
    const e = asOAuthError(err);
    recordTokenDenial(deps.audit, e, { traceId: ctx.traceId, asker, ...(ctx.source !== undefined ? { source: ctx.source } : {}) });
    throw e;
  }
}

/**
 * The one audit record of a token-endpoint refusal, whatever the grant: who asked as far as known (or, when nobody is,
 * the caller's address), the OAuth error, and the private detail.
 */
export function recordTokenDenial(
  audit: AuditPort,
  e: OAuthError,
  o: { traceId: string; asker: Asker; source?: string; data?: Record<string, unknown> },
): void {
  const { asker } = o;
  const data = { ...o.data, ...(asker.agentId === undefined && o.source !== undefined ? { source: o.source } : {}) };
  audit.record({
    type: 'token.denied',
    trace_id: o.traceId,
    ...(asker.agentId !== undefined ? { agent_id: asker.agentId } : {}),
    ...(asker.userId !== undefined ? { user_id: asker.userId } : {}),
    ...(asker.taskId !== undefined ? { task_id: asker.taskId } : {}),
    ...(Object.keys(data).length > 0 ? { data } : {}),
    decision: 'deny',
    reason: e.error,
    detail: `${e.description}${e.detail !== undefined ? ` (${e.detail})` : ''}`,
  });
}

async function issueForUser(
  params: TokenRequestParams,
  ctx: TokenRequestContext,
  deps: TokenServiceDeps,
  asker: Asker,
): Promise<TokenExchangeResponse> {
  const authenticated = await authenticateAgent(params, assertionDeps(deps));
  const spend = authenticated.spend;
  if (spend === undefined) return issueForAgent(params, ctx, deps, asker, authenticated);
  // The assertion's jti is spent with the task and token rows (one commit), or, on any refusal from here on, before
  // the refusal is answered: once presented, an assertion is never accepted again.
  try {
    return await issueForAgent(params, ctx, deps, asker, authenticated);
  } catch (err) {
    // Spending is idempotent here: false when the jti is spent already (by the mint that committed, or by another
    // request). A mint refused by the primary key of a jti another request spent between the check and this commit
    // gets the refusal the first check gives (and its audit record, which names no agent or user).
    // A store that fails here fails the request with its original error: nothing was issued.
    const spentNow = await spendAssertion(deps.db, spend).catch(() => true);
    if (isAlreadySpent(err) && !spentNow) {
      delete asker.agentId;
      delete asker.userId;
      throw refused({ reason: `jti ${spend.jti} replayed`, replayed: true });
    }
    throw err;
  }
}

async function issueForAgent(
  params: TokenRequestParams,
  ctx: TokenRequestContext,
  deps: TokenServiceDeps,
  asker: Asker,
  { agent, method, workload, spend }: AuthenticatedAgent,
): Promise<TokenExchangeResponse> {
  asker.agentId = agent.id;
  if (params.dpop_jkt !== undefined) throw new OAuthError('invalid_request', 'dpop_jkt is only for delegation to a workload sub-agent');
  // A request without a proof gets a bearer token only for an MCP resource that lets standard clients in; anywhere
  // else it is refused exactly as a missing proof always is.
  // The resource is resolved once; a request without a proof needs it before the proof step, any other after the
  // user's token, so that each refusal stays the one the steps' order gives.
  let target: ReturnType<typeof resolveResource> | undefined;
  const resolved = (): ReturnType<typeof resolveResource> =>
    (target ??= resolveResource(params, { publicUrl: deps.issuer, findResource: deps.findResource }));
  const bearer = ctx.dpop.length === 0 && bearerAllowed((await resolved()).resource);
  const jkt = bearer ? null : await tokenEndpointProofKey(ctx.dpop, deps);
  const user = await deps.users.verify(params.subject_token as string, params.subject_token_type as string);
  asker.userId = user.userId;
  const { resource, uri } = await resolved();
  const requested = parseRequestedDetails(params, resource, uri);
  const purpose = (params.purpose ?? '').slice(0, 500);
  const decision = await evaluateIssuancePolicy(
    { agent, user, resource, resourceUri: uri, requested: requested.requested, scopes: requested.scopes, purpose, depth: 0 },
    deps.policy,
  );
  const lifetime = Math.min(
    deps.defaultLifetimeSeconds,
    deps.maxLifetimeSeconds,
    bearer ? (resource.mcp?.bearer.maxLifetimeSeconds ?? 0) : Infinity,
  );
  const scope = decision.grantedScopes.join(' ');
  const { token, claims } = await mintTaskToken(
    {
      issuer: deps.issuer,
      userId: user.userId,
      userClaims: user.claims,
      agentId: agent.id,
      resourceId: resource.id,
      resourceUri: uri,
      jkt,
      purpose,
      authorizationDetails: decision.granted,
      lifetimeSeconds: lifetime,
      ...(requested.scopes.length > 0 ? { scope } : {}),
      ...(spend !== undefined ? { spend } : {}),
    },
    { db: deps.db, keys: deps.keys, now: deps.now },
  );
  deps.agentUsed?.(agent.id, deps.now());
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
      ...(bearer ? { bearer: true } : {}),
      purpose,
      authentication: method,
      ...(workload !== undefined ? { workload } : {}),
      grants: decision.reasons,
      granted: decision.granted,
      ...(requested.scopes.length > 0 ? { scope } : {}),
      denied: decision.denied,
      exp: claims.exp,
    },
  });
  return taskTokenResponse(token, claims, decision.granted, requested.scopes.length > 0 ? scope : undefined);
}

function bearerAllowed(resource: Resource): boolean {
  return resource.kind === 'mcp' && resource.mcp?.bearer.allowed === true;
}

async function delegate(
  params: TokenRequestParams,
  ctx: TokenRequestContext,
  deps: TokenServiceDeps,
  asker: Asker,
): Promise<TokenExchangeResponse> {
  const parent = await checkParentToken(params.subject_token as string, ctx.dpop, {
    db: deps.db,
    tokenEndpoint: deps.tokenEndpoint,
    check: deps.check,
    ...(deps.nonces !== undefined ? { nonces: deps.nonces } : {}),
    now: deps.now,
  });
  const p = parent.claims;
  asker.agentId = p.client_id;
  asker.userId = p.sub;
  asker.taskId = p.task_id;
  // Possession of the parent token is the parent's authentication; a client assertion, when sent, must be its own.
  if (params.client_assertion !== undefined || params.client_assertion_type !== undefined) {
    const { agent: client } = await authenticateClient(params, assertionDeps(deps));
    if (client.id !== p.client_id) throw new OAuthError('invalid_client', 'the client is not the agent of the subject token');
  }
  const parentAgent = await deps.findAgent(p.client_id);
  if (parentAgent === undefined)
    throw new OAuthError('invalid_request', 'subject_token is invalid', { detail: `parent agent ${p.client_id} is unknown` });
  const parentRefusal = agentRefusal(parentAgent, deps.now());
  if (parentRefusal !== null) throw new OAuthError('invalid_request', 'subject_token is invalid', { detail: parentRefusal.detail });
  const sub = await resolveSubAgent(params, assertionDeps(deps));
  const depth = p.task_chain.length + 1;
  if (depth > deps.maxDelegationDepth) {
    throw new OAuthError('invalid_request', 'delegation depth limit reached', { detail: `depth ${depth} > ${deps.maxDelegationDepth}` });
  }
  const user = userOf(p);
  const allowed = await deps.policy.authorize([
    delegateRequest({ parent: parentAgent, child: sub.agent, user: userAttrsOf(user.userId, user.claims), depth }),
  ]);
  if (allowed[0]?.decision !== 'allow') {
    throw new OAuthError('invalid_request', 'actor_token is invalid', {
      detail: `no grant lets ${p.client_id} delegate to ${sub.agent.id}`,
    });
  }
  // The child acts on the parent's resource only: a task token is issued for exactly one.
  const named = params.resource.length + params.audience.length > 0;
  const { resource, uri } = named
    ? await resolveResource(params, { publicUrl: deps.issuer, findResource: deps.findResource })
    : await resolveResource({ ...params, resource: [p.aud] }, { publicUrl: deps.issuer, findResource: deps.findResource });
  if (uri !== p.aud)
    throw new OAuthError('invalid_target', 'a sub-agent acts on its parent task resource only', { detail: `${uri} != ${p.aud}` });
  const requested = parseRequestedDetails(params, resource, uri);
  // What the child may do must lie within the parent's; how much, the budget, is narrowed by evaluateIssuancePolicy.
  for (const d of accessDetails(requested.requested)) {
    if (!isSubsetOf([d], p.authorization_details)) {
      throw new OAuthError('invalid_authorization_details', 'the requested authorization details exceed the parent task', {
        detail: JSON.stringify(d),
      });
    }
  }
  const purpose = (params.purpose ?? p.purpose ?? '').slice(0, 500);
  const decision = await evaluateIssuancePolicy(
    {
      agent: sub.agent,
      user,
      resource,
      resourceUri: uri,
      requested: requested.requested,
      scopes: requested.scopes,
      purpose,
      depth,
      parentBudget: budgetOf(p.authorization_details),
    },
    deps.policy,
  );
  const nowSec = Math.floor(deps.now() / 1000);
  const lifetime = Math.min(deps.defaultLifetimeSeconds, deps.maxLifetimeSeconds, p.exp - nowSec);
  if (lifetime <= 0) throw new OAuthError('invalid_request', 'subject_token is invalid', { detail: 'parent expires now' });
  const act: ActorClaim = { sub: sub.agent.id, act: p.act };
  const scope = decision.grantedScopes.join(' ');
  const { token, claims } = await mintTaskToken(
    {
      issuer: deps.issuer,
      userId: p.sub,
      userClaims: user.claims,
      agentId: sub.agent.id,
      resourceId: resource.id,
      resourceUri: uri,
      jkt: sub.jkt,
      purpose,
      authorizationDetails: decision.granted,
      lifetimeSeconds: lifetime,
      parentTaskId: p.task_id,
      parentChain: p.task_chain,
      act,
      ...(requested.scopes.length > 0 ? { scope } : {}),
    },
    { db: deps.db, keys: deps.keys, now: deps.now },
  );
  deps.agentUsed?.(sub.agent.id, deps.now());
  deps.audit.record({
    type: 'token.delegated',
    trace_id: ctx.traceId,
    task_id: claims.task_id,
    agent_id: sub.agent.id,
    user_id: p.sub,
    actor_chain: [p.sub, ...parent.agents, sub.agent.id],
    resource: resource.id,
    decision: 'allow',
    reason: decision.denied.length === 0 ? 'granted' : 'partially_granted',
    data: {
      jti: claims.jti,
      jkt: sub.jkt,
      parent_task_id: p.task_id,
      parent_agent_id: p.client_id,
      task_chain: claims.task_chain,
      depth,
      purpose,
      authentication: sub.method,
      grants: [...allowed[0].reasons, ...decision.reasons],
      granted: decision.granted,
      ...(requested.scopes.length > 0 ? { scope } : {}),
      denied: decision.denied,
      exp: claims.exp,
    },
  });
  return taskTokenResponse(token, claims, decision.granted, requested.scopes.length > 0 ? scope : undefined);
}

/** The DPoP proof of the key a new token is bound to (RFC 9449 §5), as every grant of the token endpoint checks it. */
export async function tokenEndpointProofKey(
  dpop: string[],
  deps: Pick<TokenServiceDeps, 'tokenEndpoint' | 'replay' | 'dpopAlgs' | 'proofMaxAgeSeconds' | 'clockSkewSeconds' | 'now' | 'nonces'>,
): Promise<string> {
  try {
    const { jkt } = await verifyDpopProof(dpop, {
      method: 'POST',
      url: deps.tokenEndpoint,
      replay: deps.replay,
      algorithms: deps.dpopAlgs,
      maxAgeSeconds: deps.proofMaxAgeSeconds,
      clockSkewSeconds: deps.clockSkewSeconds,
      now: () => deps.now() / 1000,
      ...(deps.nonces !== undefined ? { checkNonce: deps.nonces.check } : {}),
    });
    return jkt;
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'ERR_DPOP_MALFORMED';
    if (code === 'ERR_DPOP_NONCE' && deps.nonces !== undefined) {
      throw new OAuthError('use_dpop_nonce', 'Authorization server requires nonce in DPoP proof', {
        headers: { 'DPoP-Nonce': deps.nonces.current() },
      });
    }
    if (code === 'ERR_NOT_READY') throw new OAuthError('temporarily_unavailable', 'try again shortly', { detail: code });
    throw new OAuthError('invalid_dpop_proof', code === 'ERR_DPOP_MISSING' ? 'a DPoP proof is required' : 'DPoP proof is invalid', {
      detail: `${code}: ${(err as { detail?: string }).detail ?? ''}`,
    });
  }
}

function assertionDeps(deps: TokenServiceDeps) {
  return {
    db: deps.db,
    findAgent: deps.findAgent,
    listAgents: deps.listAgents,
    workloads: deps.workloads,
    audiences: [deps.tokenEndpoint, deps.issuer],
    clockSkewSeconds: deps.clockSkewSeconds,
    now: deps.now,
  };
}

/** The user of a parent task, as its token names them: the id and the claims grants read travel with every task. */
function userOf(parent: TaskTokenClaims): VerifiedUser {
  const i = parent.sub.indexOf(':');
  const claims = parent.email !== undefined ? { email: parent.email } : {};
  return { userId: parent.sub, providerId: parent.sub.slice(0, i), sub: parent.sub.slice(i + 1), issuer: '', claims };
}

export function taskTokenResponse(
  token: string,
  claims: { exp: number; iat: number; task_id: string; cnf?: { jkt: string } },
  granted: TokenExchangeResponse['authorization_details'],
  scope: string | undefined,
): TokenExchangeResponse {
  return {
    access_token: token,
    issued_token_type: TOKEN_TYPE.accessToken,
    token_type: claims.cnf === undefined ? 'Bearer' : 'DPoP',
    expires_in: claims.exp - claims.iat,
    ...(scope !== undefined ? { scope } : {}),
    authorization_details: granted,
    task_id: claims.task_id,
  };
}
