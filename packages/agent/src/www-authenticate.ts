/**
 * RFC 9110 §11.6.1 `WWW-Authenticate`: a comma-separated list of challenges, each an auth-scheme followed by either a
 * token68 or auth-params (`name=token` or `name="quoted string"`). Used to read RFC 9449 §7.1/§9 DPoP challenges such as
 * `DPoP error="use_dpop_nonce", algs="ES256 EdDSA"`, including when a server sends several challenges in one header.
 */

export interface Challenge {
  /** As sent; compare case-insensitively (RFC 9110 §11.1). */
  scheme: string;
  /** Parameter names lower-cased (they are case-insensitive); quoted values unescaped. */
  params: Record<string, string>;
  /** Present when the challenge carries a token68 instead of parameters (e.g. `Negotiate abc==`). */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/**
 * Parses every challenge it can read. On malformed input it stops and returns the challenges completed before the
 * fault: a challenge whose syntax is broken is never returned half-read.
 *
 * @example
 * parseWwwAuthenticate('DPoP error="use_dpop_nonce", algs="ES256"')
 * // [{ scheme: 'DPoP', params: { error: 'use_dpop_nonce', algs: 'ES256' } }]
 */
export function parseWwwAuthenticate(header: string | null | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (header === null || header === undefined) return out;
  const s = header;
  let i = 0;

  const skipSpace = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const skipSeparators = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i] as string)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string | undefined => {
    // s[i] is the opening quote
    let value = '';
    for (i++; i < s.length; i++) {
      const c = s[i] as string;
      if (c === '"') {
        i++;
        return value;
      }
      if (c === '\\') {
        i++;
        if (i >= s.length) return undefined;
        value += s[i];
      } else value += c;
    }
    return undefined; // unterminated
  };
  // After a comma: does a `name =` (a parameter of the current challenge) follow, or a new challenge's scheme?
  const paramFollows = (): boolean => {
    const save = i;
    skipSeparators();
    const name = readToken();
    skipSpace();
    const result = name !== '' && s[i] === '=';
    i = save;
    return result;
  };

  skipSeparators();
  while (i < s.length) {
    const scheme = readToken();
    if (scheme === '') return out;
    const challenge: Challenge = { scheme, params: {} };
    const afterScheme = i;
    skipSpace();
    if (i === afterScheme || i >= s.length || s[i] === ',') {
      // A bare scheme (no space, or nothing after the space).
      if (i < s.length && i === afterScheme && s[i] !== ',') return out;
      out.push(challenge);
      skipSeparators();
      continue;
    }
    const t68 = TOKEN68.exec(s.slice(i))?.[0];
    if (t68 !== undefined) {
      const save = i;
      i += t68.length;
      skipSpace();
      if (i >= s.length || s[i] === ',') {
        challenge.token68 = t68;
        out.push(challenge);
        skipSeparators();
        continue;
      }
      i = save;
    }
    for (;;) {
      const name = readToken().toLowerCase();
      skipSpace();
      if (name === '' || s[i] !== '=') return out;
      i++;
      skipSpace();
      const value = s[i] === '"' ? readQuoted() : readToken() || undefined;
      if (value === undefined) return out;
      // RFC 9110: each parameter name occurs once per challenge; keep the first rather than let a later one override.
      // defineProperty, so that a parameter called `__proto__` is just a parameter.
      if (!Object.hasOwn(challenge.params, name)) {
        Object.defineProperty(challenge.params, name, { value, enumerable: true, writable: true, configurable: true });
      }
      skipSpace();
      if (i >= s.length) break;
      if (s[i] !== ',') return out;
      if (!paramFollows()) break;
      skipSeparators();
    }
    out.push(challenge);
    skipSeparators();
  }
  return out;
}
