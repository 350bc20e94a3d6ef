/**
 * Canonicalises the path an agent asked for (relative to its resource, e.g. what follows `/r/{resource}`) so that
 * the path Writ checks is exactly the path it forwards. Anything a server or proxy might read two ways is refused
 * (ERR_PATH_INVALID) rather than repaired:
 *   - `.`/`..` segments in any spelling (`%2e%2e`, `.%2E`), also before a `;` (`..;x`: Tomcat-style servers drop
 *     path parameters and then walk up), and segments that are empty before a `;`;
 *   - empty segments (`//`), encoded `/` or `\` (`%2F`, `%5C`), raw `\`;
 *   - NUL, other control characters and DEL, raw or encoded;
 *   - malformed escapes, percent-encoded bytes that are not UTF-8 (`%C0%AF`, an overlong `/`), and an encoded `%`
 *     followed by two hex digits (`%252e`): a server that decodes twice would see `.` there;
 *   - characters RFC 3986 does not allow raw in a path (space, `"`, `<`, non-ASCII...), `?` and `#` (the caller
 *     splits off the query first), and paths over MAX_PATH_LENGTH.
 * What is kept is normalised per RFC 3986 §6.2.2: percent-encoded unreserved characters are decoded (§6.2.2.2),
 * the hex of every other escape is upper-cased (§6.2.2.1). RFC 3986 §6.2.2.3 dot-segment removal is deliberately
 * not applied: a dot segment is refused, never resolved.
 *
 * Trailing slash: kept. `/v1/x/` is a different resource from `/v1/x` to most servers, so it is forwarded as sent and
 * matched as a final empty segment: `/v1/x` does not match it, `/v1/*` does not (a `*` segment is never empty),
 * `/v1/**` and `/v1/x/**` do.
 */
import { isUtf8 } from 'node:buffer';
import { WritError } from '@writ/protocol';

export const MAX_PATH_LENGTH = 4096;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** RFC 3986 pchar minus `%` (handled separately): unreserved, sub-delims, ":" and "@". */
const RAW_ALLOWED = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const DOUBLE_ENCODED = /%25[0-9A-Fa-f]{2}/;

/**
 * The canonical form of a request path; throws WritError `ERR_PATH_INVALID` for anything ambiguous.
 *
 * @example
 * normalizeRequestPath('/v1/%7euser/%c3%a9'); // '/v1/~user/%C3%A9'
 * normalizeRequestPath('/v1/a%2fb');          // throws: encoded "/"
 */
export function normalizeRequestPath(raw: string): string {
  const segments = canonicalSegments(raw);
  if (typeof segments === 'string') throw new WritError('ERR_PATH_INVALID', segments);
  return `/${segments.join('/')}`;
}

/** The canonical segments of a path, or the reason it is refused. Shared with the pattern parser. */
export function canonicalSegments(raw: string, allowTrailingSlash = true): string[] | string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_PATH_LENGTH) return 'empty or overlong path';
  if (raw[0] !== '/') return 'path must start with /';
  if (raw === '/') return [''];
  const parts = raw.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === '') {
      if (i === parts.length - 1 && i > 0 && allowTrailingSlash) {
        out.push('');
        continue;
      }
      return 'empty path segment';
    }
    const seg = canonicalSegment(part);
    if (seg === undefined) return `segment ${JSON.stringify(part.slice(0, 80))} is not acceptable`;
    const beforeParams = seg.split(';', 1)[0] as string;
    if (beforeParams === '.' || beforeParams === '..') return 'dot segment';
    if (beforeParams === '') return 'segment empty before its parameters';
    out.push(seg);
  }
  return out;
}

function canonicalSegment(part: string): string | undefined {
  let out = '';
  let encoded: number[] | undefined;
  for (let i = 0; i < part.length; i++) {
    const ch = part[i] as string;
    if (ch === '%') {
      const hex = part.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) return undefined;
      const code = parseInt(hex, 16);
      // Encoded "/" or "\" would split differently upstream; control characters and DEL have no business in a path.
      if (code === 0x2f || code === 0x5c || code < 0x20 || code === 0x7f) return undefined;
      const decoded = String.fromCharCode(code);
      out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      if (code >= 0x80) (encoded ??= []).push(code);
      else if (encoded !== undefined && !flushUtf8(encoded)) return undefined;
      i += 2;
    } else if (RAW_ALLOWED.test(ch)) {
      if (encoded !== undefined && !flushUtf8(encoded)) return undefined;
      out += ch;
    } else {
      return undefined;
    }
  }
  if (encoded !== undefined && !flushUtf8(encoded)) return undefined;
  // Checked on the output, where decoded unreserved characters can complete it (`%25%32%65` → `%252e`).
  if (DOUBLE_ENCODED.test(out)) return undefined;
  return out;
}

/** Checks that a run of percent-encoded non-ASCII bytes is well-formed UTF-8 (no overlong forms), then empties it. */
function flushUtf8(bytes: number[]): boolean {
  const ok = bytes.length === 0 || isUtf8(Uint8Array.from(bytes));
  bytes.length = 0;
  return ok;
}
