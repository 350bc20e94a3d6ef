/**
 * RFC 9449 §4.2 `htm` and `htu`: the method and target URI a proof is bound to, computed exactly as fetch will send
 * them, so that a proof made here matches the request the server receives.
 */

// fetch upper-cases exactly these methods before sending (Fetch standard, "normalize a method") and leaves every
// other spelling alone; `htm` must equal what goes on the wire, so proofs normalise the same way and no further.
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/** The method fetch will send for `method`. */
export function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/** `htu`: the http(s) target URI without query and fragment. */
export function htuOf(url: string | URL): string {
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`htu must be an http(s) URL, not ${u.protocol}`);
  u.search = '';
  u.hash = '';
  return u.href;
}
