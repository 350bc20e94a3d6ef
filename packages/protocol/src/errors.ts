/**
 * The closed registry of Writ's stable, machine-readable error codes for enforcement decisions, with the one
 * table that maps each to its HTTP status and its RFC 6750 / RFC 9449 `WWW-Authenticate` error. Codes are never
 * reused or renamed; clients and audit queries may rely on them.
 */
import type { ResourceErrorCode } from './oauth.js';

export interface ErrorCodeInfo {
  status: number;
  /** The `error` parameter of the `WWW-Authenticate` challenge; `null` when the request carried no credentials. */
  challenge: ResourceErrorCode | null;
  /** Fixed public message: security failures say little on the wire, everything goes to the audit log. */
  message: string;
}

export const ERROR_CODES = {
  ERR_AUTH_MISSING: { status: 401, challenge: null, message: 'authentication required' },
  ERR_AUTH_MALFORMED: { status: 401, challenge: 'invalid_request', message: 'malformed Authorization header' },
  ERR_AUTH_MULTIPLE: { status: 400, challenge: 'invalid_request', message: 'more than one Authorization header' },
  ERR_AUTH_SCHEME: { status: 401, challenge: 'invalid_token', message: 'task tokens must be presented with the DPoP scheme' },
  ERR_TOKEN_MALFORMED: { status: 401, challenge: 'invalid_token', message: 'access token is malformed' },
  ERR_TOKEN_TYPE: { status: 401, challenge: 'invalid_token', message: 'access token has the wrong type' },
  ERR_TOKEN_ALG: { status: 401, challenge: 'invalid_token', message: 'access token algorithm not allowed' },
  ERR_TOKEN_KID_UNKNOWN: { status: 401, challenge: 'invalid_token', message: 'access token signing key unknown' },
  ERR_TOKEN_SIGNATURE: { status: 401, challenge: 'invalid_token', message: 'access token signature verification failed' },
  ERR_TOKEN_CLAIMS: { status: 401, challenge: 'invalid_token', message: 'access token claims invalid' },
  ERR_TOKEN_ISSUER: { status: 401, challenge: 'invalid_token', message: 'access token issuer not accepted' },
  ERR_TOKEN_AUDIENCE: { status: 401, challenge: 'invalid_token', message: 'access token not issued for this resource' },
  ERR_TOKEN_EXPIRED: { status: 401, challenge: 'invalid_token', message: 'access token expired' },
  ERR_TOKEN_NOT_YET_VALID: { status: 401, challenge: 'invalid_token', message: 'access token not yet valid' },
  ERR_DPOP_MISSING: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof required' },
  ERR_DPOP_MULTIPLE: { status: 401, challenge: 'invalid_dpop_proof', message: 'more than one DPoP header' },
  ERR_DPOP_MALFORMED: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof is malformed' },
  ERR_DPOP_TYPE: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof has the wrong type' },
  ERR_DPOP_ALG: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof algorithm not allowed' },
  ERR_DPOP_JWK: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof key invalid' },
  ERR_DPOP_SIGNATURE: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof signature verification failed' },
  ERR_DPOP_CLAIMS: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof claims invalid' },
  ERR_DPOP_HTM: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof is for another method' },
  ERR_DPOP_HTU: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof is for another URI' },
  ERR_DPOP_IAT: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof is outside the acceptable time window' },
  ERR_DPOP_REPLAY: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof was already used' },
  ERR_DPOP_ATH: { status: 401, challenge: 'invalid_dpop_proof', message: 'DPoP proof does not match the access token' },
  ERR_DPOP_BINDING: { status: 401, challenge: 'invalid_token', message: 'invalid DPoP key binding' },
  ERR_DPOP_NONCE: { status: 401, challenge: 'use_dpop_nonce', message: 'a fresh DPoP nonce is required' },
  ERR_REVOKED_TOKEN: { status: 401, challenge: 'invalid_token', message: 'access token revoked' },
  ERR_REVOKED_TASK: { status: 401, challenge: 'invalid_token', message: 'task is no longer active' },
  ERR_REVOKED_AGENT: { status: 401, challenge: 'invalid_token', message: 'agent revoked' },
  ERR_REVOKED_USER: { status: 401, challenge: 'invalid_token', message: 'access for this user revoked' },
  ERR_REVOKED_KEY: { status: 401, challenge: 'invalid_token', message: 'DPoP key revoked' },
  ERR_REVOKED_ALL: { status: 401, challenge: 'invalid_token', message: 'all access revoked' },
  ERR_REVOKED_TOOL: { status: 403, challenge: null, message: 'this tool or action is revoked' },
  ERR_AGENT_EXPIRED: { status: 401, challenge: 'invalid_token', message: "the agent's registration has ended" },
  ERR_APPROVAL_REQUIRED: { status: 403, challenge: null, message: 'this call waits for a person to approve it' },
  ERR_APPROVAL_DENIED: { status: 403, challenge: null, message: 'a person denied this call' },
  ERR_APPROVAL_UNKNOWN: { status: 404, challenge: null, message: 'no such approval' },
  ERR_RATE_LIMITED: { status: 429, challenge: null, message: 'too many calls this minute' },
  ERR_BUDGET_EXHAUSTED: { status: 429, challenge: null, message: "the task's call budget is spent" },
  ERR_PATH_INVALID: { status: 400, challenge: 'invalid_request', message: 'request path is not acceptable' },
  ERR_HEADER_INVALID: { status: 400, challenge: 'invalid_request', message: 'request header is not acceptable' },
  ERR_INPUT_INVALID: { status: 400, challenge: 'invalid_request', message: 'the request carries a character Writ does not accept' },
  ERR_ACTION_NOT_AUTHORIZED: { status: 403, challenge: 'insufficient_scope', message: 'the task is not authorized for this action' },
  ERR_POLICY_DENIED: { status: 403, challenge: 'insufficient_scope', message: 'no grant permits this action' },
  ERR_BODY_TOO_LARGE: { status: 413, challenge: null, message: 'request body too large' },
  ERR_RESOURCE_UNKNOWN: { status: 404, challenge: null, message: 'unknown resource' },
  ERR_UPSTREAM_UNAVAILABLE: { status: 502, challenge: null, message: 'upstream unavailable' },
  ERR_UPSTREAM_TIMEOUT: { status: 504, challenge: null, message: 'upstream timed out' },
  ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED: {
    status: 403,
    challenge: null,
    message: 'the user has not connected an account at this upstream (or the connection lapsed): connect it at connect_url',
  },
  ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE: {
    status: 502,
    challenge: null,
    message: "the upstream's credential could not be obtained",
  },
  ERR_UPSTREAM_SHARE_EXCEEDED: { status: 429, challenge: null, message: 'this agent or task already holds its share of the upstream' },
  ERR_UPSTREAM_SATURATED: { status: 503, challenge: null, message: 'upstream at capacity' },
  ERR_EGRESS_REFUSED: { status: 502, challenge: null, message: 'the upstream address is not one Writ may connect to' },
  ERR_ORIGIN_REFUSED: { status: 403, challenge: null, message: 'request origin not allowed' },
  ERR_MCP_MESSAGE_INVALID: { status: 400, challenge: null, message: 'not a valid MCP message' },
  ERR_MCP_PROTOCOL_VERSION: { status: 400, challenge: null, message: 'unsupported MCP protocol version' },
  ERR_MCP_HEADER_MISMATCH: { status: 400, challenge: null, message: 'MCP request headers do not match the message' },
  ERR_MCP_HTTP_METHOD: { status: 405, challenge: null, message: 'HTTP method not allowed on this MCP endpoint' },
  ERR_MCP_SESSION_REQUIRED: { status: 400, challenge: null, message: 'an MCP session is required' },
  ERR_MCP_SESSION_LIMIT: { status: 429, challenge: null, message: 'too many MCP sessions for this task or agent' },
  ERR_MCP_SESSION_UNKNOWN: { status: 404, challenge: null, message: 'unknown or ended MCP session' },
  ERR_MCP_METHOD_NOT_ALLOWED: { status: 403, challenge: null, message: 'this MCP method is not available through the gateway' },
  ERR_MCP_STREAM_CONFLICT: { status: 409, challenge: null, message: 'a stream is already open for this session' },
  ERR_MCP_TOOL_UNKNOWN: { status: 404, challenge: null, message: 'the upstream has no such tool' },
  ERR_MCP_UNEXPECTED_RESPONSE: { status: 400, challenge: null, message: 'response to no pending request' },
  ERR_NOT_READY: { status: 503, challenge: null, message: 'enforcement point not ready' },
  ERR_ROLE_NOT_SERVED: { status: 404, challenge: null, message: "this node's cluster role does not serve this path" },
  ERR_INTERNAL: { status: 500, challenge: null, message: 'internal error' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A denial at an enforcement point: a stable code, and a private detail that goes to the audit log only. */
export class WritError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  /**
   * What the caller is told besides the code, for the few denials that name a way forward (`connect_url`). Public by
   * construction: never a secret, never the private detail.
   */
  readonly hint: DenialHint | undefined;
  constructor(code: ErrorCode, detail?: string, hint?: DenialHint) {
    super(ERROR_CODES[code].message);
    this.name = 'WritError';
    this.code = code;
    this.detail = detail;
    this.hint = hint;
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** The public extras of a denial. */
export interface DenialHint {
  /** `ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED`: where the user connects their account at the upstream (a page of Writ's). */
  connect_url?: string;
  /** `ERR_APPROVAL_REQUIRED` / `ERR_APPROVAL_DENIED`: the approval this exact call is bound to. */
  approval_id?: string;
  /** Where an approver sees the call and approves or denies it (a page of Writ's). */
  approval_url?: string;
  /** Where the agent asks how the approval stands (`GET`: `pending`, `approved`, `denied`, `expired`, `used`). */
  poll_url?: string;
  /** `ERR_RATE_LIMITED` / `ERR_BUDGET_EXHAUSTED`: seconds until a call can fit again (also the `Retry-After` header). */
  retry_after?: number;
}

/** JSON body of every gateway denial. */
export interface DenialBody extends DenialHint {
  error: string;
  error_description: string;
  code: ErrorCode;
}
