/** Errors of the admin API: a stable code, an HTTP status from one table, a public message. */
export const ADMIN_ERROR_STATUS = {
  ERR_ADMIN_UNAUTHENTICATED: 401,
  ERR_ADMIN_INVALID_REQUEST: 400,
  ERR_ADMIN_NOT_FOUND: 404,
  ERR_ADMIN_CONFLICT: 409,
  ERR_ADMIN_POLICY_INVALID: 400,
  ERR_ADMIN_INTERNAL: 500,
} as const satisfies Record<string, number>;

export type AdminErrorCode = keyof typeof ADMIN_ERROR_STATUS;

export class AdminError extends Error {
  readonly code: AdminErrorCode;
  readonly details: string[];
  constructor(code: AdminErrorCode, message: string, details: string[] = []) {
    super(message);
    this.name = 'AdminError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return ADMIN_ERROR_STATUS[this.code];
  }
}
