/**
 * Tool patterns of `mcp` authorization details: an exact MCP tool name (1–128 of `[A-Za-z0-9_.-]`, the MCP
 * tool-name charset), that name followed by one `*` (every tool whose name starts with it), or `*` (every tool).
 */

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const TOOL_PATTERN = /^(?:\*|[A-Za-z0-9_.-]{1,128}\*?)$/;

export function isMcpToolName(name: unknown): name is string {
  return typeof name === 'string' && TOOL_NAME.test(name);
}

export function isMcpToolPattern(pattern: unknown): pattern is string {
  return typeof pattern === 'string' && TOOL_PATTERN.test(pattern);
}

/** Does a (valid) pattern match a (valid) tool name? */
export function toolPatternMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/** Is every tool name `inner` matches also matched by `outer`? Exact for valid patterns. */
export function toolPatternContains(outer: string, inner: string): boolean {
  if (!outer.endsWith('*')) return outer === inner;
  // `inner` as written starts with the prefix: an exact name, or a prefix pattern that only extends it (`*` is `""*`).
  return inner.startsWith(outer.slice(0, -1));
}

const URI_PATTERN = /^[\x21-\x7e]{1,2048}$/;

/** A resource URI pattern: 1–2048 printable ASCII characters; a final `*` makes it a prefix. */
export function isMcpResourcePattern(pattern: unknown): pattern is string {
  return typeof pattern === 'string' && URI_PATTERN.test(pattern);
}

/**
 * A URI a prefix may be checked on: printable ASCII, no `.`/`..` path segments, no percent-encoded `.`, `/` or `\\`,
 * no backslash. Servers resolve those in their own ways; a URI with none of them means the same to every reader.
 */
export function isPlainUri(uri: string): boolean {
  if (!URI_PATTERN.test(uri) || uri.includes('\\') || /%(2e|2f|5c)/i.test(uri)) return false;
  const path = uri.replace(/^[a-z][a-z0-9+.-]*:(\/\/[^/?#]*)?/i, '').split(/[?#]/)[0] ?? '';
  return !path.split('/').some((seg) => seg === '.' || seg === '..');
}

/** Does a (valid) resource pattern match a URI? Exact URIs match literally; prefixes only plain URIs. */
export function resourcePatternMatches(pattern: string, uri: string): boolean {
  if (!pattern.endsWith('*')) return pattern === uri;
  return URI_PATTERN.test(uri) && isPlainUri(uri) && uri.startsWith(pattern.slice(0, -1));
}
