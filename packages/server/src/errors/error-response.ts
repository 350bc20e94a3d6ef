/**
 * Any thrown error as the wire family of the endpoint answers it. A family's own error is answered as it is; a
 * request the HTTP framework itself refused (unparseable body, wrong media type, too large) is that family's
 * "invalid request"; anything else is that family's internal error, and is marked so the caller logs it — its
 * message never reaches the wire.
 */
import { PATHS, WritError } from '@writ/protocol';
import { AdminError, adminErrorResponse, writCodeResponse } from './admin-error.js';
import { gatewayDenialResponse } from './gateway-denial.js';
import { OAuthError, oauthErrorResponse } from './oauth-error.js';
import { SsfError, ssfErrorResponse } from './ssf-error.js';
import { RegistrationError, registrationErrorResponse } from './authorization-error.js';
import type { WireResponse } from './wire-response.js';
import { isStoreUnavailable, isUnstorableInput, RETRY_AFTER_SECONDS, unexpectedDetail } from './unexpected-error.js';

export type WireFamily = 'oauth' | 'admin' | 'ssf' | 'gateway';

/** Which family answers errors for a path (query string excluded). */
export function familyOfPath(path: string): WireFamily {
  if (path.startsWith('/oauth2/')) return 'oauth';
  if (path.startsWith('/ssf/') || path === PATHS.ssfConfiguration) return 'ssf';
  if (path === PATHS.taskComplete || path.startsWith(PATHS.httpResourcePrefix) || path.startsWith(PATHS.mcpResourcePrefix))
    return 'gateway';
  return 'admin';
}

export interface ErrorResponseOptions {
  /** DPoP algorithms, for a gateway denial's challenge. */
  algs: readonly string[];
  /** A current DPoP server nonce to hand out with a gateway denial, when nonces are required. */
  nonce?: string | undefined;
}

export function errorResponse(err: unknown, family: WireFamily, opts: ErrorResponseOptions): { response: WireResponse; internal: boolean } {
  if (err instanceof OAuthError) return { response: oauthErrorResponse(err), internal: err.error === 'server_error' };
  if (err instanceof AdminError) return { response: adminErrorResponse(err), internal: err.code === 'ERR_ADMIN_INTERNAL' };
  if (err instanceof RegistrationError) return { response: registrationErrorResponse(err), internal: false };
  if (err instanceof SsfError) return { response: ssfErrorResponse(err), internal: err.error === 'server_error' };
  if (err instanceof WritError)
    return {
      response: gatewayDenialResponse(err, { algs: opts.algs, ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}) }),
      internal: err.code === 'ERR_INTERNAL',
    };
  if (isUnstorableInput(err)) return { response: invalidInput(family, opts), internal: false };
  if (isStoreUnavailable(err)) return { response: storeUnavailable(family, opts), internal: true };
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return { response: badRequest(err as Error, status, family), internal: false };
  return { response: internalError(family, opts), internal: true };
}

function badRequest(err: Error, status: number, family: WireFamily): WireResponse {
  switch (family) {
    case 'oauth':
      // RFC 6749 §5.2: a malformed request is invalid_request, 400, whatever the framework called it.
      return oauthErrorResponse(new OAuthError('invalid_request', 'malformed request'));
    case 'ssf':
      return ssfErrorResponse(new SsfError('invalid_request', err.message, { status }));
    case 'admin':
    case 'gateway':
      return adminErrorResponse(new AdminError('ERR_ADMIN_INVALID_REQUEST', err.message), {}, status);
  }
}

function internalError(family: WireFamily, opts: ErrorResponseOptions): WireResponse {
  switch (family) {
    case 'oauth':
      return oauthErrorResponse(new OAuthError('server_error', 'internal error'));
    case 'ssf':
      return ssfErrorResponse(new SsfError('server_error', 'internal error'));
    case 'gateway':
      return gatewayDenialResponse('ERR_INTERNAL', { algs: opts.algs });
    case 'admin':
      return adminErrorResponse(new AdminError('ERR_ADMIN_INTERNAL', 'internal error'));
  }
}

const RETRY = { 'retry-after': String(RETRY_AFTER_SECONDS) };
const INVALID_INPUT = 'the request carries a character Writ does not accept (NUL)';

function invalidInput(family: WireFamily, opts: ErrorResponseOptions): WireResponse {
  switch (family) {
    case 'oauth':
      return oauthErrorResponse(new OAuthError('invalid_request', INVALID_INPUT));
    case 'ssf':
      return ssfErrorResponse(new SsfError('invalid_request', INVALID_INPUT));
    case 'gateway':
      return gatewayDenialResponse('ERR_INPUT_INVALID', { algs: opts.algs });
    case 'admin':
      return adminErrorResponse(new AdminError('ERR_ADMIN_INVALID_REQUEST', INVALID_INPUT));
  }
}

function storeUnavailable(family: WireFamily, opts: ErrorResponseOptions): WireResponse {
  switch (family) {
    case 'oauth':
      return oauthErrorResponse(oauthStoreUnavailable('store unavailable'));
    case 'ssf':
      return ssfErrorResponse(new SsfError('temporarily_unavailable', 'the store is unavailable; retry shortly', { headers: RETRY }));
    case 'gateway':
      return gatewayDenialResponse('ERR_NOT_READY', { algs: opts.algs, retryAfter: RETRY_AFTER_SECONDS });
    case 'admin':
      return writCodeResponse('ERR_NOT_READY', 'the store is unavailable; retry shortly', RETRY);
  }
}

/** Any error as the OAuth endpoints answer it: their own errors as they are, the rest per unexpected-error.ts. */
export function asOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (isUnstorableInput(err)) return new OAuthError('invalid_request', INVALID_INPUT, { detail: unexpectedDetail(err) });
  if (isStoreUnavailable(err)) return oauthStoreUnavailable(unexpectedDetail(err));
  return new OAuthError('server_error', 'internal error', { detail: unexpectedDetail(err) });
}

function oauthStoreUnavailable(detail: string): OAuthError {
  return new OAuthError('temporarily_unavailable', 'the store is unavailable; retry shortly', { detail, headers: RETRY });
}

/** Any error as an enforcement point answers it: its own denials as they are, the rest per unexpected-error.ts. */
export function asWritError(err: unknown): WritError {
  if (err instanceof WritError) return err;
  if (isUnstorableInput(err)) return new WritError('ERR_INPUT_INVALID', unexpectedDetail(err));
  if (isStoreUnavailable(err)) return new WritError('ERR_NOT_READY', unexpectedDetail(err));
  return new WritError('ERR_INTERNAL', unexpectedDetail(err));
}
