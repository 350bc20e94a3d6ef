/**
 * Wire errors of the SSF endpoints. The management and poll APIs are OAuth protected resources, so failures carry an
 * RFC 6750 `error` code (`invalid_request`, `invalid_token`, `insufficient_scope`) with a public description and,
 * for authentication, a `WWW-Authenticate: Bearer` challenge; SSF §8.1 fixes the statuses (400, 401, 403, 404, 429).
 */
import { jsonWire, type WireResponse } from './wire-response.js';

export type SsfErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'not_found'
  | 'too_many_requests'
  | 'server_error'
  | 'temporarily_unavailable';

export const SSF_ERROR_STATUS = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  not_found: 404,
  too_many_requests: 429,
  server_error: 500,
  temporarily_unavailable: 503,
} as const satisfies Record<SsfErrorCode, number>;

export class SsfError extends Error {
  readonly error: SsfErrorCode;
  readonly description: string;
  readonly headers: Record<string, string>;
  /** Set only where the status differs from the code's own (a missing token: 401 without an error code). */
  readonly #status: number | undefined;
  constructor(error: SsfErrorCode, description: string, opts: { headers?: Record<string, string>; status?: number } = {}) {
    super(`${error}: ${description}`);
    this.name = 'SsfError';
    this.error = error;
    this.description = description;
    this.headers = opts.headers ?? {};
    this.#status = opts.status;
  }
  get status(): number {
    return this.#status ?? SSF_ERROR_STATUS[this.error];
  }
  toJSON(): { error: SsfErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export function ssfErrorResponse(err: SsfError): WireResponse {
  return jsonWire(err.status, err.toJSON(), err.headers);
}
