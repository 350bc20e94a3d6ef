/**
 * Errors of the admin API and of Writ's other operator-facing JSON endpoints (the revocation feed, node-level
 * refusals): `{code, message, details?}`, a stable code, an HTTP status from one table, a public message.
 */
import { ERROR_CODES, type ErrorCode } from '@writ/protocol';
import { jsonWire, type WireResponse } from './wire-response.js';

export const ADMIN_ERROR_STATUS = {
  ERR_ADMIN_UNAUTHENTICATED: 401,
  ERR_ADMIN_INVALID_REQUEST: 400,
  ERR_ADMIN_FORBIDDEN: 403,
  ERR_ADMIN_NOT_FOUND: 404,
  ERR_ADMIN_CONFLICT: 409,
  ERR_ADMIN_POLICY_INVALID: 400,
  ERR_ADMIN_RATE_LIMITED: 429,
  ERR_ADMIN_INTERNAL: 500,
} as const satisfies Record<string, number>;

export type AdminErrorCode = keyof typeof ADMIN_ERROR_STATUS;

export class AdminError extends Error {
  readonly code: AdminErrorCode;
  readonly details: string[];
  /** Extra response headers (`Retry-After`). */
  readonly headers: Record<string, string>;
  constructor(code: AdminErrorCode, message: string, details: string[] = [], headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AdminError';
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
  get status(): number {
    return ADMIN_ERROR_STATUS[this.code];
  }
}

/** An address locked out after too many failed credentials (http/failed-auth-throttle.ts): 429 with `Retry-After`. */
export function adminRateLimited(retryAfterSeconds: number): AdminError {
  return new AdminError('ERR_ADMIN_RATE_LIMITED', 'too many failed authentications from this address; retry later', [], {
    'retry-after': String(retryAfterSeconds),
  });
}

/** `status` overrides the code's own only where the framework refused the request with a more precise one (413, 415). */
export function adminErrorResponse(err: AdminError, extra: Record<string, string> = {}, status = err.status): WireResponse {
  return jsonWire(
    status,
    { code: err.code, message: err.message, ...(err.details.length > 0 ? { details: err.details } : {}) },
    { ...err.headers, ...extra },
  );
}

/**
 * A node-level refusal in the same shape, with an enforcement code (`ERR_NOT_READY`, `ERR_ROLE_NOT_SERVED`) and that
 * code's status and fixed message unless `message` says more.
 */
export function writCodeResponse(code: ErrorCode, message?: string, extra: Record<string, string> = {}): WireResponse {
  const info = ERROR_CODES[code];
  return jsonWire(info.status, { code, message: message ?? info.message }, extra);
}
