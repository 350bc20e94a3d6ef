/** Grants as Cedar policies: schema, a worker-thread engine, request builders, and the call-decision cache. */
export { WRIT_CEDAR_SCHEMA } from './schema.js';
export { createPolicyEngine, PolicyEngineError } from './policy-engine.js';
export type { PolicyEngine } from './policy-engine.js';
export { createCallDecisionCache } from './call-decision-cache.js';
export type { CallDecisionCache } from './call-decision-cache.js';
export { contextUseOf } from './context-use.js';
export {
  requestSubject,
  userAttrsOf,
  resourceActionRequest,
  USER_ENTITY_CLAIMS,
  httpRequest,
  mcpToolRequest,
  toolArgumentsRequest,
  mcpResourceRequest,
  mcpPromptRequest,
  delegateRequest,
  userUid,
  agentUid,
  resourceUid,
} from './requests.js';
export type { AgentAttrs, ResourceAttrs, UserAttrs, RequestSubject, ResourceAction, UserEntityClaims } from './requests.js';
export type { CedarRequest, CedarEntity, CedarValue, Decision, EntityRef, ValidationResult, ContextUse } from './types.js';
export { createIssuanceDecisionCache } from './issuance-decision-cache.js';
export type { IssuanceDecisionCache } from './issuance-decision-cache.js';
export { APPROVAL_ANNOTATION, approverKey, parseApprovers } from './approval-annotation.js';
export type { ApprovalRule, Approver } from './approval-annotation.js';
export { BUDGET_ANNOTATION, BUDGET_KEYS, parseBudget, tightest } from './budget-annotation.js';
export type { BudgetKey, BudgetLimits } from './budget-annotation.js';
export { TOOL_ACTION_PREFIX, toolActionId, parseToolActionId, argumentTypeOf, cedarArguments } from './tool-arguments.js';
export type { ToolSchema, ArgumentType, RecordType } from './tool-arguments.js';
