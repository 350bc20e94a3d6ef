/**
 * Issuance-time policy: Cedar decides each requested atom on its own — (method, path pattern) with action `http`,
 * (tool pattern) with action `mcp_tool`. A scope is coarse: it is granted only when every atom it stands for is, and
 * a scope that is not granted contributes nothing. The token holds only what was both requested and granted; when
 * nothing is granted, nothing is issued. Evaluation errors deny.
 */
import {
  BUDGET_DETAIL_TYPE,
  BUDGET_LIMITS,
  accessDetails,
  budgetOf,
  type AuthorizationDetail,
  type BudgetAuthorizationDetail,
  type TaskAuthorizationDetail,
} from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';
import type { Agent, Resource } from '../../register/index.js';
import {
  requestSubject,
  resourceActionRequest,
  type CedarRequest,
  type Decision,
  type PolicyEngine,
  type ResourceAction,
  type BudgetLimits,
  tightest,
} from '../../policy/index.js';
import type { VerifiedUser } from '../../identity/index.js';
import { scopeDetails } from './parse-authorization-details.js';
import { atomsOf, detailsFromAtoms, questionOf, unionOfAtoms, type Atom } from './issuance-atoms.js';

export interface IssuanceInput {
  agent: Agent;
  user: VerifiedUser;
  resource: Resource;
  resourceUri: string;
  /**
   * As parseRequestedDetails returns it: the explicit details, then the expansion of `scopes`, in order; a requested
   * budget (`writ_budget`) may be among the explicit ones.
   */
  requested: TaskAuthorizationDetail[];
  /** A sub-task's parent budget: the child's is never wider. */
  parentBudget?: BudgetAuthorizationDetail | undefined;
  scopes: string[];
  purpose: string;
  depth: number;
}

export interface IssuanceDecision {
  /** What the token holds: what the task may do, and — when a grant or the request sets one — its budget. */
  granted: TaskAuthorizationDetail[];
  /** Requested scopes whose every atom was granted. */
  grantedScopes: string[];
  /** Human-readable denials for the audit trail: `GET /v1/x`, `tool search`, `scope files.write`. */
  denied: string[];
  /** Grant ids behind what was granted, for the audit trail. */
  reasons: string[];
}

/**
 * @example
 * const { requested, scopes } = parseRequestedDetails(params, resource, uri);
 * const decision = await evaluateIssuancePolicy({ agent, user, resource, resourceUri: uri, requested, scopes, purpose, depth: 0 }, engine);
 */
/** The engine, or the issuance-decision cache in front of it (same contract); `budgetRule` reads grants' `@budget`. */
export type IssuancePolicy = Pick<PolicyEngine, 'authorize'> & { budgetRule?(reasons: readonly string[]): BudgetLimits | null };

export async function evaluateIssuancePolicy(input: IssuanceInput, engine: IssuancePolicy): Promise<IssuanceDecision> {
  const requestedBudget = budgetOf(input.requested);
  const access = { ...input, requested: accessDetails(input.requested) };
  const expansions = input.scopes.map((name) => ({ name, atoms: atomsOf(scopeDetails(input.resource, name, input.resourceUri)) }));
  const explicit = atomsOf(explicitPart(access));
  const answers = await decide([...explicit, ...expansions.flatMap((e) => e.atoms)], input, engine);
  const allowed = (a: Atom): boolean => answers.get(questionOf(a))?.decision === 'allow';

  const denied = new Set<string>();
  for (const a of explicit) if (!allowed(a)) denied.add(questionOf(a));
  const grantedScopes: string[] = [];
  const scopeAtoms: Atom[][] = [];
  for (const e of expansions) {
    if (e.atoms.every(allowed)) {
      grantedScopes.push(e.name);
      scopeAtoms.push(e.atoms);
    } else {
      denied.add(`scope ${e.name}`);
      for (const a of e.atoms) if (!allowed(a)) denied.add(questionOf(a));
    }
  }
  const granted = unionOfAtoms(explicit.filter(allowed), ...scopeAtoms);
  if (granted.length === 0) {
    const onlyScope = explicit.length === 0 && expansions.length > 0;
    throw new OAuthError(
      onlyScope ? 'invalid_scope' : 'invalid_authorization_details',
      onlyScope ? 'no grant permits the requested scope' : 'no grant permits the requested authorization details',
      { detail: `denied: ${[...denied].join(', ')}` },
    );
  }
  const reasons = new Set(granted.flatMap((a) => answers.get(questionOf(a))?.reasons ?? []));
  const budget = taskBudget([engine.budgetRule?.([...reasons]) ?? null, requestedBudget ?? null, input.parentBudget ?? null]);
  return {
    granted: [...detailsFromAtoms(granted, input.resourceUri), ...(budget !== undefined ? [budget] : [])],
    grantedScopes,
    denied: [...denied],
    reasons: [...reasons],
  };
}

/** The task's budget: each limit the tightest that the grants, the request and the parent task set; none when none. */
function taskBudget(sources: ReadonlyArray<BudgetLimits | BudgetAuthorizationDetail | null>): BudgetAuthorizationDetail | undefined {
  let limits: BudgetLimits = {};
  for (const s of sources) if (s !== null) limits = tightest(limits, s);
  const budget: BudgetAuthorizationDetail = { type: BUDGET_DETAIL_TYPE };
  for (const k of BUDGET_LIMITS) if (limits[k] !== undefined) budget[k] = limits[k];
  return Object.keys(budget).length > 1 ? budget : undefined;
}

/** The explicitly requested details: `requested` without the scope expansion parseRequestedDetails appended. */
function explicitPart(input: Omit<IssuanceInput, 'requested'> & { requested: AuthorizationDetail[] }): AuthorizationDetail[] {
  const tail = input.scopes.flatMap((name) => scopeDetails(input.resource, name, input.resourceUri));
  const head = input.requested.slice(0, input.requested.length - tail.length);
  const rest = input.requested.slice(head.length);
  if (rest.length !== tail.length || rest.some((d, i) => JSON.stringify(d) !== JSON.stringify(tail[i]))) {
    throw new TypeError('requested must be what parseRequestedDetails returned: the explicit details, then the expansion of scopes');
  }
  return head;
}

/** One Cedar evaluation per distinct question, in one batch. */
async function decide(atoms: readonly Atom[], input: IssuanceInput, engine: IssuancePolicy): Promise<Map<string, Decision>> {
  const questions = new Map<string, CedarRequest>();
  const subject = requestSubject({
    agent: input.agent,
    userId: input.user.userId,
    userClaims: input.user.claims,
    resource: input.resource,
    purpose: input.purpose,
    depth: input.depth,
  });
  for (const a of atoms) {
    const q = questionOf(a);
    if (questions.has(q)) continue;
    questions.set(q, resourceActionRequest(subject, actionOf(a)));
  }
  const decisions = await engine.authorize([...questions.values()]);
  return new Map([...questions.keys()].map((q, i) => [q, decisions[i] ?? { decision: 'deny', reasons: [], errors: ['no answer'] }]));
}

/** The Cedar question an atom stands for: `http`, `mcp_tool`, `mcp_prompt` or `mcp_resource`, with the pattern as written. */
function actionOf(a: Atom): ResourceAction {
  switch (a.type) {
    case 'http':
      return { action: 'http', method: a.method, path: a.path };
    case 'mcp':
      return { action: 'mcp_tool', tool: a.tool };
    case 'mcp-prompt':
      return { action: 'mcp_prompt', prompt: a.prompt };
    case 'mcp-resource':
      return { action: 'mcp_resource', uri: a.uri };
  }
}
