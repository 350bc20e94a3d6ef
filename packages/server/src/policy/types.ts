/** Plain data exchanged with the policy worker and returned to callers. */
import type { Approver } from './approval-annotation.js';
import type { BudgetLimits } from './budget-annotation.js';
import type { ToolSchema } from './tool-arguments.js';

export interface EntityRef {
  type: string;
  id: string;
}

export type CedarValue = string | number | boolean | null | { __entity: EntityRef } | CedarValue[] | { [key: string]: CedarValue };

export interface CedarEntity {
  uid: EntityRef;
  attrs: Record<string, CedarValue>;
  parents: EntityRef[];
}

export interface CedarRequest {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context: Record<string, CedarValue>;
  entities: CedarEntity[];
}

export interface Decision {
  decision: 'allow' | 'deny';
  /** Ids of the policies that determined the decision (`<grant id>.<n>`). */
  reasons: string[];
  /** Evaluation errors; any error means deny. */
  errors: string[];
}

/** What loading a policy set reports: what its policies can read, how many there are, and which ask for approval. */
export interface LoadResult {
  contextUse: ContextUse;
  policyCount: number;
  approvals: Array<[string, Approver[]]>;
  budgets: Array<[string, BudgetLimits]>;
  /** The typed tool actions (`mcp_tool:<resource>/<tool>`) some policy names: the tools whose arguments are governed. */
  toolActions: string[];
}

export type ValidationResult = { ok: true; policyCount: number } | { ok: false; errors: string[] };

/** Which context attributes some policy can read: a list, or every attribute when a policy reads context whole. */
export type ContextUse = { all: true } | { all: false; attributes: string[] };

export type WorkerRequest =
  | { id: number; op: 'validate'; text: string; tools: ToolSchema[] }
  | { id: number; op: 'toolActions'; text: string }
  | { id: number; op: 'load'; grants: { id: string; text: string }[]; tools: ToolSchema[] }
  | { id: number; op: 'authorize'; requests: CedarRequest[] };

export type WorkerResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
