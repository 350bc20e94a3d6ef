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
  // WHATWG URL already lower-cases scheme and host, drops default ports and turns an empty path into "/".
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}
