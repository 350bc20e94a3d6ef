/**
 * Any thrown error as the wire family of the endpoint answers it. A family's own error is answered as it is; a
 * request the HTTP framework itself refused (unparseable body, wrong media type, too large) is that family's
 * "invalid request"; anything else is that family's internal error, and is marked so the caller logs it — its
 * message never reaches the wire.
 */
import { PATHS, WritError } from '@writ/protocol';
import { AdminError, adminErrorResponse } from './admin-error.js';
import { gatewayDenialResponse } from './gateway-denial.js';
import { OAuthError, oauthErrorResponse } from './oauth-error.js';
import { SsfError, ssfErrorResponse } from './ssf-error.js';
import type { WireResponse } from './wire-response.js';

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
  if (err instanceof SsfError) return { response: ssfErrorResponse(err), internal: err.error === 'server_error' };
  if (err instanceof WritError)
    return {
      response: gatewayDenialResponse(err, { algs: opts.algs, ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}) }),
      internal: err.code === 'ERR_INTERNAL',
    };
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
