/**
 * Which URLs Writ will fetch an identity provider's metadata and keys from. `https:` always; `http:` only on
 * loopback, because the dev identity provider (and tests) run there and nothing on the wire can be tampered with.
 * Anywhere else plain http would let whoever sits on the path substitute the keys — and so mint any user.
 */
import { isLoopbackHost } from '@writ/verify/internal';

/** True for `https:` URLs, and for `http:` URLs whose host is 127.0.0.0/8, `::1` or `localhost`. */
export function isAllowedProviderUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  // Credentials in a provider URL are a configuration mistake at best; a fragment is meaningless for a fetch.
  if (url.username !== '' || url.password !== '' || url.hash !== '') return false;
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  return isLoopbackHost(url.hostname);
}
