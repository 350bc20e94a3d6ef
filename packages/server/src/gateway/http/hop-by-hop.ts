/**
 * RFC 9110 §7.6.1: hop-by-hop fields are consumed by each hop and never forwarded, and neither are the fields the
 * `Connection` header names.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const NONE: ReadonlySet<string> = new Set();

export function connectionListed(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined) return NONE;
  const out = new Set<string>();
  for (const v of Array.isArray(value) ? value : [value]) for (const name of v.split(',')) out.add(name.trim().toLowerCase());
  return out;
}

export function isHopByHop(name: string, listed: ReadonlySet<string>): boolean {
  return HOP_BY_HOP.has(name) || listed.has(name);
}
