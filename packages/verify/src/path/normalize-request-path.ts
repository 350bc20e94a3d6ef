/**
 * Canonicalises the path an agent asked for (relative to its resource) so that the path Writ checks is exactly the
 * path it forwards. Anything a server or proxy might read two ways is refused rather than repaired: `.`/`..`
 * segments in any spelling (`%2e%2e`, `.%2E`), empty segments (`//`), encoded `/` or `\`, raw `\`, NUL and other
 * control characters raw or encoded, malformed or non-ASCII escapes. Percent-encoded unreserved characters are
 * decoded (RFC 3986 §6.2.2.2) and the hex of the rest upper-cased (§6.2.2.1). A single trailing slash is kept: it
 * is a different resource to most servers, and patterns treat it as a final empty segment.
 */
import { WritError } from '@writ/protocol';

export const MAX_PATH_LENGTH = 4096;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** RFC 3986 pchar minus `%` (handled separately): unreserved, sub-delims, ":" and "@". */
const RAW_ALLOWED = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

export function normalizeRequestPath(raw: string): string {
  const segments = canonicalSegments(raw);
  if (typeof segments === 'string') throw new WritError('ERR_PATH_INVALID', segments);
  return `/${segments.join('/')}`;
}

/** The canonical segments of a path, or the reason it is refused. Shared with the pattern parser. */
export function canonicalSegments(raw: string, allowTrailingSlash = true): string[] | string {
  if (raw.length === 0 || raw.length > MAX_PATH_LENGTH) return 'empty or overlong path';
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
    if (seg === '.' || seg === '..') return 'dot segment';
    out.push(seg);
  }
  return out;
}

function canonicalSegment(part: string): string | undefined {
  let out = '';
  for (let i = 0; i < part.length; i++) {
    const ch = part[i] as string;
    if (ch === '%') {
      const hex = part.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      const code = parseInt(hex, 16);
      // Encoded "/" or "\" would split differently upstream; control characters and DEL have no business in a path.
      if (code === 0x2f || code === 0x5c || code < 0x20 || code === 0x7f) return undefined;
      const decoded = String.fromCharCode(code);
      out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (RAW_ALLOWED.test(ch)) {
      out += ch;
    } else {
      return undefined;
    }
  }
  return out;
}
