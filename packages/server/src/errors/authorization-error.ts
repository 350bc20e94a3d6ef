/**
 * Wire errors of the authorization server for stock clients, besides the token endpoint's (oauth-error.ts):
 * - the authorization endpoint's, carried back to the client in the redirect (RFC 6749 §4.1.2.1, RFC 8707 §2
 *   `invalid_target`) once the client and its redirect URI are known, and shown on a page (never redirected) before;
 * - Dynamic Client Registration's (RFC 7591 §3.2.2), and RFC 6750's `invalid_token` for a wrong initial access token.
 * `description` is public and fixed per failure; `detail` goes to the audit log only.
 */
import { jsonWire, type WireResponse } from './wire-response.js';

export const AUTHORIZATION_RESPONSE_ERRORS = [
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'invalid_target',
  'server_error',
  'temporarily_unavailable',
] as const;
export type AuthorizationResponseErrorCode = (typeof AUTHORIZATION_RESPONSE_ERRORS)[number];

export class AuthorizationError extends Error {
  readonly error: AuthorizationResponseErrorCode;
  readonly description: string;
  readonly detail: string | undefined;
  constructor(error: AuthorizationResponseErrorCode, description: string, opts: { detail?: string } = {}) {
    super(`${error}: ${description}`);
    this.name = 'AuthorizationError';
    this.error = error;
    this.description = description;
    this.detail = opts.detail;
  }
}

export const REGISTRATION_ERROR_STATUS = {
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  invalid_token: 401,
} as const;
export type RegistrationErrorCode = keyof typeof REGISTRATION_ERROR_STATUS;

export class RegistrationError extends Error {
  readonly error: RegistrationErrorCode;
  readonly description: string;
  readonly detail: string | undefined;
  constructor(error: RegistrationErrorCode, description: string, opts: { detail?: string } = {}) {
    super(`${error}: ${description}`);
    this.name = 'RegistrationError';
    this.error = error;
    this.description = description;
    this.detail = opts.detail;
  }
}

/** RFC 7591 §3.2.2 (and RFC 6750 §3 with its challenge for `invalid_token`), `Cache-Control: no-store`. */
export function registrationErrorResponse(err: RegistrationError): WireResponse {
  const headers: Record<string, string> =
    err.error === 'invalid_token' ? { 'www-authenticate': `Bearer error="invalid_token", error_description="${err.description}"` } : {};
  return jsonWire(REGISTRATION_ERROR_STATUS[err.error], { error: err.error, error_description: err.description }, headers);
}
