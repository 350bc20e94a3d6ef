/**
 * Wire errors of the OAuth endpoints (token, introspection, revocation): RFC 6749 §5.2 and the RFCs that extend its
 * registry. `description` is public and fixed per failure; `detail` is private and goes to the audit log only;
 * anything unexpected is `server_error`.
 */
import type { OAuthTokenErrorCode } from '@writ/protocol';
import { jsonWire, type WireResponse } from './wire-response.js';

export const OAUTH_ERROR_STATUS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_authorization_details: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  unsupported_token_type: 400,
  server_error: 500,
  temporarily_unavailable: 503,
} as const satisfies Record<OAuthTokenErrorCode, number>;

export class OAuthError extends Error {
  readonly error: OAuthTokenErrorCode;
  readonly description: string;
  readonly detail: string | undefined;
  readonly status: number;
  /** Extra response headers (`DPoP-Nonce`, `WWW-Authenticate`, `Retry-After`). */
  readonly headers: Record<string, string>;
  constructor(
    error: OAuthTokenErrorCode,
    description: string,
    opts: { detail?: string; headers?: Record<string, string>; status?: number } = {},
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
    this.error = error;
    this.description = description;
    this.detail = opts.detail;
    this.headers = opts.headers ?? {};
    this.status = opts.status ?? OAUTH_ERROR_STATUS[error];
  }
  toJSON(): { error: OAuthTokenErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/** RFC 6749 §5.2: `{error, error_description}`, `Cache-Control: no-store`, and the error's own headers. */
export function oauthErrorResponse(err: OAuthError): WireResponse {
  return jsonWire(err.status, err.toJSON(), err.headers);
}
