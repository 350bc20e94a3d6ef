/**
 * The steps every gateway call shares, HTTP or MCP, in the order they run: refuse while the enforcement point cannot
 * vouch for its state → find the resource the path names (the register's id rule) → the per-call check from
 * @writ/verify (token, DPoP proof, binding, revocation) → the agent must be active and its registration not ended →
 * (the protocol adapter checks the task's authorization details) → the call-time grants, asked with the request the
 * token service asked at issuance → the call is counted against its budgets and rate limits → a call an `@approval`
 * grant permits waits for a person's approval of exactly it → and, whatever step a call ends at, its audit (gateway-audit.ts: a refusal, or a write-ahead record and an
 * outcome). The HTTP and MCP gateways keep only what their protocol adds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WritError, budgetOf, type TaskTokenClaims } from '@writ/protocol';
import { CallBudgets, type Taken } from '../budgets/index.js';
import { checkCall, headerValues, RevokedCredentialError, type CheckCallContext, type DpopNonces } from '@writ/verify/internal';
import { asWritError, writeDenial, RETRY_AFTER_SECONDS, RETRYABLE_GATEWAY_CODES } from '../errors/index.js';
import { isRegisterId } from '../ids/index.js';
import { agentRefusal, resourceMetadataUrl, resourceUri, type Agent, type Resource } from '../register/index.js';
import {
  cedarArguments,
  requestSubject,
  resourceActionRequest,
  toolArgumentsRequest,
  type ApprovalRule,
  type BudgetLimits,
  type CallDecisionCache,
  type CedarRequest,
  type Decision,
  type RecordType,
  type ResourceAction,
} from '../policy/index.js';
import type { CallToApprove } from '../approvals/index.js';
import type { Logger, Tracing } from '../observability/index.js';
import { actorChain, type CallState, type GatewayAudit } from './gateway-audit.js';
import type { ObservedDecisions } from './observed-decisions.js';

export interface EnforcementDeps {
  publicUrl: string;
  check: Omit<CheckCallContext, 'audience'>;
  resources: { get(id: string): Resource | undefined };
  agents: { get(id: string): Agent | undefined };
  /** Notes that an agent acted (its `last_used_at`, written in batches). */
  agentUsed(agentId: string, at: number): void;
  /** Register version: part of every call-decision cache key, so a register change can never serve stale data. */
  entitiesVersion(): string;
  decisions: CallDecisionCache;
  /** What a call's determining policies ask for: a person's approval of the call (`@approval`), or nothing. */
  approvalRule(reasons: readonly string[]): ApprovalRule | null;
  /**
   * How a tool's arguments are put to the grants (policy-engine.ts `toolArguments`): undefined when no grant puts
   * conditions on them, the type of its `context.arguments`, or null when a grant does but no input schema is known.
   */
  toolArguments(resourceId: string, tool: string): RecordType | null | undefined;
  /** Observe mode: the candidate set asked beside the enforced one, differences recorded (never changing an answer). */
  observed?: ObservedDecisions;
  /** The agent's and user's per-minute limits of a call's determining policies (`@budget`), or null. */
  budgetRule(reasons: readonly string[]): BudgetLimits | null;
  /** The counters of budgets and rate limits (budgets/). */
  budgets: CallBudgets;
  /** Lets an approved call through once, or throws ERR_APPROVAL_REQUIRED / ERR_APPROVAL_DENIED (approvals/). */
  approvals: { gate(call: CallToApprove, rule: ApprovalRule): Promise<string> };
  audit: GatewayAudit;
  /** False when the enforcement point cannot vouch for its state (audit backlog, stale revocations): refuse. */
  ready(): boolean;
  dpopAlgs: readonly string[];
  /** Server nonces, when required: handed out on every answer, demanded in every proof. */
  nonces?: DpopNonces;
  logger: Logger;
  /** A span per call when tracing is on; the trace context is continued either way. */
  tracing: Tracing;
}

/** Who is calling, once the per-call check has passed. */
export interface Caller {
  claims: TaskTokenClaims;
  /** The DPoP key's thumbprint; null for a bearer call (an MCP resource that allows them). */
  jkt: string | null;
  agent: Agent;
  resource: Resource;
  /** The resource's URI: the token's audience, and the location its authorization details name. */
  audience: string;
}

export class CallEnforcer {
  readonly #kind: Resource['kind'];
  readonly #deps: EnforcementDeps;

  constructor(kind: Resource['kind'], deps: EnforcementDeps) {
    this.#kind = kind;
    this.#deps = deps;
  }

  get deps(): EnforcementDeps {
    return this.#deps;
  }

  /**
   * Runs one call: `handler` does the protocol's work; whatever it throws is denied, audited and answered with the
   * gateway's denial shape (anything that is not a WritError is an internal error, logged with its trace id).
   */
  run(req: IncomingMessage, res: ServerResponse, handler: (state: CallState) => Promise<void>): void {
    const span = this.#deps.tracing.startServerSpan(`writ.gateway.${this.#kind}`, req.headers.traceparent, {
      'http.request.method': req.method ?? 'GET',
    });
    const state: CallState = {
      trace: span.trace,
      started: Date.now(),
      resourceId: undefined,
      method: req.method ?? 'GET',
      path: undefined,
      claims: undefined,
      source: req.socket.remoteAddress ?? 'unknown',
    };
    const steps = async (): Promise<void> => {
      if (!this.#deps.ready()) throw new WritError('ERR_NOT_READY', 'enforcement point not ready');
      await handler(state);
    };
    steps()
      .catch((err: unknown) => {
        // The audit record and the answer get a code and a kind (unexpected-error.ts), never a stack; the log gets it.
        const e = asWritError(err);
        if (!(err instanceof WritError))
          this.#deps.logger.error({ err, trace_id: state.trace.traceId }, `${this.#kind} gateway: ${e.detail ?? e.code}`);
        this.deny(req, res, state, e);
      })
      .finally(() => {
        if (!this.#deps.tracing.enabled) return;
        const o = state.outcome;
        span.end(
          {
            ...(state.resourceId !== undefined ? { 'writ.resource': state.resourceId } : {}),
            ...(state.claims !== undefined
              ? { 'writ.task_id': state.claims.task_id, 'writ.agent_id': state.claims.client_id, 'enduser.id': state.claims.sub }
              : {}),
            ...(state.action !== undefined || state.path !== undefined
              ? { 'writ.action': state.action ?? `${state.method} ${state.path}` }
              : {}),
            ...(o !== undefined ? { 'writ.decision': o.decision, 'writ.reason': o.reason, 'http.response.status_code': o.status } : {}),
          },
          o?.decision === 'deny' ? o.reason : undefined,
        );
      });
  }

  /** The registered resource of this gateway's kind that `id` names; anything else is ERR_RESOURCE_UNKNOWN. */
  resolve(state: CallState, id: string): Resource {
    const resource = isRegisterId(id) ? this.#deps.resources.get(id) : undefined;
    if (resource === undefined || resource.kind !== this.#kind)
      throw new WritError('ERR_RESOURCE_UNKNOWN', `${this.#kind} resource ${JSON.stringify(id.slice(0, 80))}`);
    state.resourceId = resource.id;
    return resource;
  }

  /**
   * The per-call check for this resource (the proof's `htu` is the public URL of `rawPath`), then the agent must be
   * active: a suspended agent's tokens stop at once, not when they expire.
   */
  async authenticate(req: IncomingMessage, state: CallState, resource: Resource, rawPath: string): Promise<Caller> {
    const deps = this.#deps;
    const audience = resourceUri(deps.publicUrl, resource);
    let verified: Awaited<ReturnType<typeof checkCall>>;
    try {
      verified = await checkCall(
        {
          method: state.method,
          url: `${deps.publicUrl}${rawPath}`,
          authorization: headerValues(req.rawHeaders, 'authorization'),
          dpop: headerValues(req.rawHeaders, 'dpop'),
        },
        { ...deps.check, audience, acceptBearer: resource.mcp?.bearer.allowed === true },
      );
    } catch (err) {
      // An authentic but revoked credential: its refusal goes on its task's record (only the audit reads these claims).
      if (err instanceof RevokedCredentialError) state.claims = err.claims;
      throw err;
    }
    const { claims, jkt } = verified;
    state.claims = claims;
    const agent = deps.agents.get(claims.client_id);
    if (agent === undefined) throw new WritError('ERR_REVOKED_AGENT', `agent ${claims.client_id} is unknown`);
    // The clock the token checks use (a test's, or the wall clock), in ms.
    const nowMs = deps.check.now !== undefined ? deps.check.now() * 1000 : Date.now();
    const refusal = agentRefusal(agent, nowMs);
    if (refusal !== null) throw new WritError(refusal.kind === 'expired' ? 'ERR_AGENT_EXPIRED' : 'ERR_REVOKED_AGENT', refusal.detail);
    deps.agentUsed(agent.id, nowMs);
    return { claims, jkt, agent, resource, audience };
  }

  /**
   * The call-time grants for one concrete action, through the call-decision cache, asked with the same subject the
   * token service built at issuance (policy/requests.ts). Anything but allow is ERR_POLICY_DENIED; an allow returns
   * the grants behind it, for the audit event. `observe: false` for a question that is not a call (a list being
   * filtered): observe mode records calls only.
   */
  async grant(caller: Caller, action: ResourceAction, o: { observe?: boolean; arguments?: unknown } = {}): Promise<string[]> {
    const c = caller.claims;
    const subject = requestSubject({
      agent: caller.agent,
      userId: c.sub,
      userClaims: c,
      resource: caller.resource,
      purpose: c.purpose ?? '',
      depth: c.task_chain.length,
    });
    const request = resourceActionRequest(subject, action);
    const decision = await this.#decide(request, caller, action, o.observe !== false);
    if (decision.decision !== 'allow') {
      throw new WritError(
        'ERR_POLICY_DENIED',
        decision.errors.length > 0 ? `policy errors: ${decision.errors.join('; ')}` : 'no grant permits this call',
      );
    }
    // A tool call whose arguments some grant puts conditions on is asked again, as the tool's own action with them.
    if (action.action === 'mcp_tool' && 'arguments' in o) {
      const type = this.#deps.toolArguments(caller.resource.id, action.tool);
      if (type !== undefined) await this.#argumentsPermitted(caller, subject, action.tool, type, o.arguments, o.observe !== false);
      else if (o.observe !== false) this.#observeArguments(caller, subject, action.tool, o.arguments);
    }
    return decision.reasons;
  }

  /**
   * Observe mode, when only an observed grant puts conditions on a tool's arguments: the enforced set has nothing to
   * say about them (no forbid: let through), the candidate set is asked what it would say.
   */
  #observeArguments(caller: Caller, subject: ReturnType<typeof requestSubject>, tool: string, args: unknown): void {
    const observed = this.#deps.observed;
    if (observed?.active !== true) return;
    const type = observed.toolArguments(caller.resource.id, tool);
    const value = type === undefined || type === null ? undefined : cedarArguments(type, args);
    if (value === undefined) return;
    observed.observe(
      toolArgumentsRequest(subject, tool, value),
      this.#deps.entitiesVersion(),
      { decision: 'deny', reasons: [], errors: [] },
      { claims: caller.claims, resourceId: caller.resource.id, action: describeAction({ action: 'mcp_tool', tool }) },
      narrowingOutcome,
    );
  }

  /** One question to the call-time grants through the decision cache, observed (observe mode) when `observe`. */
  async #decide(request: CedarRequest, caller: Caller, action: ResourceAction, observe: boolean, narrowing = false): Promise<Decision> {
    const version = this.#deps.entitiesVersion();
    const pending = this.#deps.decisions.decide(request, version);
    const decision = pending instanceof Promise ? await pending : pending;
    const observed = this.#deps.observed;
    if (observed?.active === true && observe)
      observed.observe(
        request,
        version,
        decision,
        { claims: caller.claims, resourceId: caller.resource.id, action: describeAction(action) },
        narrowing ? narrowingOutcome : undefined,
      );
    return decision;
  }

  /**
   * Argument conditions only narrow (policy/tool-arguments.ts): the tool's own action refuses the call when a
   * `forbid` applies or a policy errs; nothing permits there, so a deny with no determining policy is no refusal.
   * Arguments that do not fit the tool's recorded input schema cannot be put to the grants: refused.
   */
  async #argumentsPermitted(
    caller: Caller,
    subject: ReturnType<typeof requestSubject>,
    tool: string,
    type: RecordType | null,
    args: unknown,
    observe: boolean,
  ): Promise<void> {
    if (type === null)
      throw new WritError(
        'ERR_POLICY_DENIED',
        `a grant puts conditions on the arguments of ${tool}, but no input schema is recorded for it`,
      );
    const value = cedarArguments(type, args);
    if (value === undefined)
      throw new WritError('ERR_POLICY_DENIED', `the arguments of ${tool} do not fit its recorded input schema, so no grant can judge them`);
    const decision = await this.#decide(toolArgumentsRequest(subject, tool, value), caller, { action: 'mcp_tool', tool }, observe, true);
    if (narrowingOutcome(decision) === 'deny')
      throw new WritError(
        'ERR_POLICY_DENIED',
        decision.errors.length > 0
          ? `policy errors: ${decision.errors.join('; ')}`
          : `a grant forbids these arguments of ${tool} (${decision.reasons.join(', ')})`,
      );
  }

  /**
   * Counts the call against its task's budget (the token's `writ_budget`) and the agent's and user's per-minute
   * limits (the grants' `@budget`); throws the 429 of the first one reached. Undefined when none applies (no counter
   * is touched); otherwise what `giveBack` returns if the call is refused after all (an approval it waits for).
   */
  async takeBudget(caller: Caller, grants: readonly string[], action: string): Promise<Taken | undefined> {
    const c = caller.claims;
    const limits = { budget: budgetOf(c.authorization_details), rule: this.#deps.budgetRule(grants) };
    if (!CallBudgets.applies(limits)) return undefined;
    return this.#deps.budgets.take({
      taskId: c.task_id,
      agentId: c.client_id,
      userId: c.sub,
      tokenExpiresAt: c.exp * 1000,
      action,
      ...limits,
    });
  }

  /** The approval rule of a call the grants allowed (`grant`'s answer), or null: most calls need none. */
  approvalRule(grants: readonly string[]): ApprovalRule | null {
    return this.#deps.approvalRule(grants);
  }

  /**
   * Holds back a call an `@approval` policy permits until a person approved exactly this call (task, resource,
   * action, target, arguments); returns the approval's id once it is let through (used: good once).
   */
  holdForApproval(caller: Caller, rule: ApprovalRule, call: Pick<CallToApprove, 'action' | 'target' | 'arguments'>): Promise<string> {
    const c = caller.claims;
    return this.#deps.approvals.gate(
      {
        taskId: c.task_id,
        agentId: c.client_id,
        userId: c.sub,
        resourceId: caller.resource.id,
        taskChain: [...c.task_chain, c.task_id],
        actorChain: actorChain(c),
        purpose: c.purpose ?? '',
        ...call,
      },
      rule,
    );
  }

  /** The audit record of a refusal; the caller answers it in its protocol's shape. */
  recordDenial(state: CallState, err: WritError, data?: Record<string, unknown>): void {
    this.#deps.audit.call(state, {
      decision: 'deny',
      reason: err.code,
      status: err.status,
      grants: [],
      detail: err.detail ?? '',
      ...(data !== undefined ? { data } : {}),
    });
  }

  /** Audits the refusal and answers it with the gateway's denial (status, DPoP challenge, stable code). */
  deny(req: IncomingMessage, res: ServerResponse, state: CallState, err: WritError): void {
    this.recordDenial(state, err);
    writeDenial(res, err, {
      algs: this.#deps.dpopAlgs,
      resourceMetadata:
        state.resourceId === undefined ? undefined : resourceMetadataUrl(this.#deps.publicUrl, { id: state.resourceId, kind: this.#kind }),
      ...(this.#deps.nonces !== undefined ? { nonce: this.#deps.nonces.current() } : {}),
      // Not final: the audit backlog drains, revocation state catches up, the store comes back, a share frees up; a
      // limit names its own wait.
      ...(err.hint?.retry_after !== undefined
        ? { retryAfter: err.hint.retry_after }
        : RETRYABLE_GATEWAY_CODES.has(err.code)
          ? { retryAfter: RETRY_AFTER_SECONDS }
          : {}),
    });
    // Drain what the client still sends so the connection can be reused, but never more than the body limit.
    if (!req.complete) req.resume();
  }

  /** `DPoP-Nonce` for every answer, when nonces are required. */
  nonceHeader(): Record<string, string> {
    const nonce = this.nonce();
    return nonce !== undefined ? { 'dpop-nonce': nonce } : {};
  }

  /** The current server nonce, when nonces are required. */
  nonce(): string | undefined {
    return this.#deps.nonces?.current();
  }
}

/** The answer of a narrowing question (a tool's own action): only a `forbid` or an error refuses. */
function narrowingOutcome(d: Decision): 'allow' | 'deny' {
  return d.errors.length > 0 || (d.decision === 'deny' && d.reasons.length > 0) ? 'deny' : 'allow';
}

/** An action as the audit log names it: `GET /v1/x`, `mcp_tool search`, `mcp_resource file:///a`, `mcp_prompt p`. */
function describeAction(a: ResourceAction): string {
  switch (a.action) {
    case 'http':
      return `${a.method} ${a.path}`;
    case 'mcp_tool':
      return `mcp_tool ${a.tool}`;
    case 'mcp_resource':
      return `mcp_resource ${a.uri}`;
    case 'mcp_prompt':
      return `mcp_prompt ${a.prompt}`;
  }
}
