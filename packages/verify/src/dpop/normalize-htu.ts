/**
 * RFC 9449 §4.3 item 9: `htu` is compared with the request URI without query and fragment, after RFC 3986 §6.2.2
 * (case, percent-encoding) and §6.2.3 (scheme-based: default port, empty path) normalisation.
 */
const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // Userinfo is no part of a target URI a client may sign for (RFC 9110 §4.2.4 deprecates it in http(s) URIs);
  // dropping it silently would let `https://anything@host/` stand for `https://host/`.
  if (url.username !== '' || url.password !== '' || /^[a-z][a-z0-9+.-]*:\/*[^/?#]*@/i.test(value)) return undefined;
  // WHATWG URL already lower-cases scheme and host, drops default ports and turns an empty path into "/".
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * True only for URLs that `normalizeHtu` provably leaves unchanged (a conservative allow-list: lower-case DNS name or
 * dotted-decimal IPv4, no default port, no `%`, no dot segments, no query or fragment). The fast path in
 * `verifyDpopProof` may skip URL parsing only for these: its replay key must be the canonical URI, or one proof could
 * be replayed once per spelling of the same URI.
 */
const PLAIN_URL =
  /^(https?):\/\/(?:(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)|(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)*[a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?::([1-9]\d{0,4}))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)$/;

export function isCanonicalHtu(value: string): boolean {
  const m = PLAIN_URL.exec(value);
  if (m === null) return false;
  const port = m[2];
  if (port !== undefined && (Number(port) > 65535 || port === (m[1] === 'https' ? '443' : '80'))) return false;
  return !/\/\.{1,2}(?=\/|$)/.test(m[3] as string);
}
