/**
 * RFC 6749 §5.2 error response (as extended by RFC 8693 §2.2.2, RFC 8707, RFC 9396 and RFC 9449 §5): the token
 * endpoint's `error` and `error_description`, with the HTTP status, as one typed error an agent can branch on.
 */
export class TokenExchangeError extends Error {
  /** The OAuth error code (`invalid_grant`, `invalid_target`, …), or `invalid_response` when the answer was unusable. */
  readonly error: string;
  readonly error_description: string | undefined;
  /** The HTTP status of the answer. */
  readonly status: number;

  constructor(status: number, error: string, errorDescription?: string) {
    super(`token exchange failed (${status}): ${error}${errorDescription !== undefined ? `: ${errorDescription}` : ''}`);
    this.name = 'TokenExchangeError';
    this.error = error;
    this.error_description = errorDescription;
    this.status = status;
  }
}
