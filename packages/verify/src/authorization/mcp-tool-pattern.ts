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
