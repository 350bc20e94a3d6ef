/**
 * One home for errors and their wire shape: each wire family builds a WireResponse in its own module, and
 * `sendWire` / `replyWire` write it on raw `node:http` or on Fastify. Internal codes come from one registry.
 */
export { jsonWire, sendWire, replyWire } from './wire-response.js';
export type { WireResponse } from './wire-response.js';
export { OAuthError, OAUTH_ERROR_STATUS, oauthErrorResponse } from './oauth-error.js';
export { AdminError, ADMIN_ERROR_STATUS, adminErrorResponse, adminRateLimited, writCodeResponse } from './admin-error.js';
export type { AdminErrorCode } from './admin-error.js';
export {
  AuthorizationError,
  AUTHORIZATION_RESPONSE_ERRORS,
  RegistrationError,
  REGISTRATION_ERROR_STATUS,
  registrationErrorResponse,
} from './authorization-error.js';
export type { AuthorizationResponseErrorCode, RegistrationErrorCode } from './authorization-error.js';
export { SsfError, SSF_ERROR_STATUS, ssfErrorResponse } from './ssf-error.js';
export type { SsfErrorCode } from './ssf-error.js';
export { gatewayDenialResponse, writeDenial } from './gateway-denial.js';
export type { GatewayDenialOptions } from './gateway-denial.js';
export { RPC, rpcError, jsonRpcResponse } from './json-rpc-error.js';
export type { RpcErrorCode, JsonRpcId, JsonRpcMessage } from './json-rpc-error.js';
export { INTERNAL_ERROR_CODES } from './internal-codes.js';
export type { InternalErrorCode, CodesOf } from './internal-codes.js';
export { errorResponse, familyOfPath, asOAuthError, asWritError } from './error-response.js';
export {
  UnacceptableInputError,
  isStoreUnavailable,
  isUnstorableInput,
  unexpectedDetail,
  RETRY_AFTER_SECONDS,
  RETRYABLE_GATEWAY_CODES,
} from './unexpected-error.js';
export type { WireFamily } from './error-response.js';
