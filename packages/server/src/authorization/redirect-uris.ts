/**
 * Which redirect URIs a client may register, and whether a requested one is registered. Matching is exact string
 * comparison (OAuth 2.1 §4.1.3, RFC 9700 §4.1.3), with the one exception RFC 8252 §7.3 requires: a loopback redirect
 * (`http` to 127.0.0.1, [::1] or localhost) matches whatever its port, since native apps pick a free one each time.
 * Nothing else is relaxed: not the path, not the query, not the host's case.
 */
import { isLoopbackHost } from '@writ/verify/internal';

export const MAX_REDIRECT_URIS = 10;
const MAX_URI_LENGTH = 2000;

/** Why a redirect URI cannot be registered, or undefined when it can. */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > MAX_URI_LENGTH) return 'longer than 2000 characters';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not an absolute URI';
  }
  if (uri.includes('#')) return 'has a fragment';
  if (url.username !== '' || url.password !== '') return 'has credentials';
  if (/[\s\\]/.test(uri) || /%(?![0-9a-fA-F]{2})/.test(uri)) return 'has characters a URI may not hold';
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'https') return undefined;
  if (scheme === 'http') return isLoopbackHost(url.hostname) ? undefined : 'http is only for loopback redirects (RFC 8252 §7.3)';
  // Private-use schemes of native apps (RFC 8252 §7.1); schemes that run code or load data are never redirects.
  if (['javascript', 'data', 'file', 'blob', 'vbscript', 'about', 'ws', 'wss', 'ftp'].includes(scheme)) return `scheme ${scheme} refused`;
  return undefined;
}

/** The registered URI the request names, or undefined when it names none. */
export function matchRedirectUri(registered: readonly string[], requested: string): string | undefined {
  if (registered.includes(requested)) return requested;
  const asked = loopbackParts(requested);
  if (asked === undefined) return undefined;
  for (const r of registered) {
    const parts = loopbackParts(r);
    if (parts !== undefined && parts.host === asked.host && parts.rest === asked.rest) return requested;
  }
  return undefined;
}

/** An `http` loopback URI split around its port: the host as written and everything after the authority. */
function loopbackParts(uri: string): { host: string; rest: string } | undefined {
  const m = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?(\/[^#]*)?$/.exec(uri);
  if (m === null) return undefined;
  if (m[2] !== undefined && (Number(m[2]) === 0 || Number(m[2]) > 65535)) return undefined;
  return { host: m[1] as string, rest: m[3] ?? '/' };
}
