/** Parses an RFC 9110 §11.6.1 challenge list such as `DPoP error="use_dpop_nonce", algs="ES256"` into schemes and parameters. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const PIECE = /([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)|[A-Za-z0-9!#$%&'*+.^_`|~-]+|,/g;

export function parseWwwAuthenticate(header: string | null | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (header === null || header === undefined) return out;
  let current: Challenge | undefined;
  for (const m of header.matchAll(PIECE)) {
    if (m[0] === ',') continue;
    if (m[1] !== undefined) {
      if (current === undefined) continue;
      const raw = m[2] ?? '';
      current.params[m[1].toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    } else {
      current = { scheme: m[0], params: {} };
      out.push(current);
    }
  }
  return out;
}
