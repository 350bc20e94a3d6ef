/**
 * @writ/protocol — the wire vocabulary shared by Writ's server, SDKs, verifier and console: claim and token types,
 * authorization detail types, OAuth URNs, Writ's stable error codes, and the admin API's answers as the console reads
 * them. No runtime dependencies.
 */
export {
  GRANT_TYPE_TOKEN_EXCHANGE,
  GRANT_TYPE,
  ID_JAG,
  TOKEN_TYPE,
  CLIENT_ASSERTION_TYPE_JWT_BEARER,
  JWT_TYP,
  DPOP_ALGS,
  TOKEN_SIGNING_ALGS,
  OAUTH_TOKEN_ERRORS,
  RESOURCE_ERRORS,
} from './oauth.js';
export type { TokenTypeUri, DpopAlg, TokenSigningAlg, OAuthTokenErrorCode, ResourceErrorCode, TokenExchangeResponse } from './oauth.js';
export {
  AUTHORIZATION_DETAIL_TYPES,
  HTTP_METHODS,
  BUDGET_DETAIL_TYPE,
  BUDGET_LIMITS,
  accessDetails,
  budgetOf,
} from './authorization-details.js';
export type {
  ArgumentConstraint,
  ArgumentScalar,
  AuthorizationDetail,
  AuthorizationDetailType,
  BudgetAuthorizationDetail,
  TaskAuthorizationDetail,
  HttpAuthorizationDetail,
  HttpMethod,
  McpAuthorizationDetail,
} from './authorization-details.js';
export type { ActorClaim, TaskTokenClaims, DpopProofClaims } from './claims.js';
export { actorsOf } from './claims.js';
export { ERROR_CODES, WritError } from './errors.js';
export type { ErrorCode, ErrorCodeInfo, DenialBody, DenialHint } from './errors.js';
export {
  PATHS,
  DEFAULT_PORT,
  SET_KID_PREFIX,
  AUDIT_CHECKPOINT_KID_PREFIX,
  UPSTREAM_ASSERTION_KID_PREFIX,
  NON_TOKEN_KID_PREFIXES,
} from './paths.js';
export type {
  AdminAgent,
  AdminApproval,
  AdminAuditEntry,
  AdminGrant,
  AdminNodeReport,
  AdminObserveReport,
  AdminObserveReportRow,
  AdminOverview,
  AdminResource,
  AdminSecret,
  AdminSpawnNode,
  AdminTask,
  AdminTaskChain,
  AdminTaskChainNode,
  NodeChecks,
} from './admin-wire.js';
