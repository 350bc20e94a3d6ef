/**
 * Loopback checks: the one place that says what counts as loopback, for every place Writ lets plain `http`, a
 * redirect or a bind through only on loopback (identity providers' URLs, the dev provider, loopback redirect URIs per
 * RFC 8252 §7.3, the servers Writ runs for MCP upstreams).
 */

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * An IP address literal in 127.0.0.0/8, or `::1` (unbracketed, as `net` takes it). A name such as `localhost` is not
 * trusted to resolve there.
 */
export function isLoopbackAddress(address: unknown): boolean {
  if (address === '::1') return true;
  const m = typeof address === 'string' ? IPV4_LOOPBACK.exec(address) : null;
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}

/**
 * A URL's `hostname` as WHATWG URL parsing leaves it: IPv4 in dotted-decimal whatever the input spelling
 * (`http://2130706433/` → `127.0.0.1`), IPv6 in brackets and compressed. `localhost` must be exact: `localhost.evil`
 * and `127.0.0.1.nip.io` are DNS names anyone can point anywhere.
 *
 * @example
 * isLoopbackHost(new URL('http://127.0.0.1:8080/cb').hostname) // true
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || (hostname !== '::1' && isLoopbackAddress(hostname));
}
