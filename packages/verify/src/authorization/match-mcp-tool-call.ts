/**
 * `mcp` authorization details (RFC 9396; semantics in @writ/protocol): is an MCP `tools/call`, `prompts/get` or
 * resource read covered, is a detail well formed, and does one detail cover another (attenuation). A detail that is
 * malformed in any way grants nothing and covers nothing; so does a call whose name or arguments are malformed.
 */
import type { ArgumentConstraint, McpAuthorizationDetail, TaskAuthorizationDetail } from '@writ/protocol';
import {
  argumentConstraintProblem,
  canonicalArgumentConstraint,
  constraintImplies,
  isPlainObject,
  satisfiesConstraint,
} from './argument-constraint.js';
import {
  isMcpResourcePattern,
  isMcpToolName,
  isMcpToolPattern,
  resourcePatternMatches,
  toolPatternContains,
  toolPatternMatches,
} from './mcp-tool-pattern.js';

export const MAX_MCP_TOOLS = 64;
export const MAX_MCP_RESOURCES = 64;
export const MAX_MCP_ARGUMENTS = 32;
const MAX_LOCATIONS = 4;
const MEMBERS = new Set(['type', 'locations', 'tools', 'resources', 'prompts', 'arguments']);

export interface McpToolCall {
  /** The resource identifier (the token's audience). */
  resource: string;
  /** `params.name` of the `tools/call` request. */
  tool: string;
  /** `params.arguments` of the request, as received; absent means no arguments. */
  arguments?: unknown;
}

export class McpDetailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'McpDetailError';
  }
}

/** Why a value is not a well-formed `mcp` detail, or undefined when it is one. */
export function mcpDetailProblem(d: unknown): string | undefined {
  if (!isPlainObject(d) || d['type'] !== 'mcp') return 'not an mcp authorization detail';
  const extra = Object.keys(d).find((k) => !MEMBERS.has(k));
  if (extra !== undefined) return `unknown member ${JSON.stringify(extra)}`;
  const { locations, tools, resources, prompts, arguments: args } = d;
  if (locations !== undefined && !(isStringArray(locations) && locations.length >= 1 && locations.length <= MAX_LOCATIONS)) {
    return `locations must be 1 to ${MAX_LOCATIONS} strings`;
  }
  if (tools === undefined && resources === undefined && prompts === undefined) return 'an mcp detail names tools, resources or prompts';
  for (const [member, list, valid, what] of [
    ['tools', tools, isMcpToolPattern, 'an MCP tool name, a name followed by "*", or "*"'],
    ['prompts', prompts, isMcpToolPattern, 'a prompt name, a name followed by "*", or "*"'],
    ['resources', resources, isMcpResourcePattern, 'a resource URI of printable ASCII, optionally ending in "*"'],
  ] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_MCP_TOOLS)
      return `${member} must list 1 to ${MAX_MCP_TOOLS} entries`;
    const bad = (list as unknown[]).find((t) => !valid(t));
    if (bad !== undefined) return `${member}: ${JSON.stringify(bad)} is not ${what}`;
  }
  if (args === undefined) return undefined;
  if (!isPlainObject(args)) return 'arguments must be an object';
  const names = Object.keys(args);
  if (names.length > MAX_MCP_ARGUMENTS) return `arguments may constrain at most ${MAX_MCP_ARGUMENTS} arguments`;
  for (const name of names) {
    // `__proto__` cannot be rebuilt as an own member by ordinary code, so a constraint on it could be lost on the way.
    if (name === '' || name.length > 128 || name === '__proto__') return `arguments: ${JSON.stringify(name)} is not a valid argument name`;
    const problem = argumentConstraintProblem(args[name]);
    if (problem !== undefined) return `arguments.${name}: ${problem}`;
  }
  return undefined;
}

function isMcp(d: unknown): d is McpAuthorizationDetail {
  return mcpDetailProblem(d) === undefined;
}

/**
 * The canonical form of an `mcp` detail: tools and locations without duplicates, constraints canonical, an empty
 * `arguments` dropped. Throws McpDetailError when the value is not a well-formed `mcp` detail.
 *
 * @example
 * canonicalMcpDetail({ type: 'mcp', tools: ['search', 'search'], arguments: { q: { maxLength: 200 } } });
 * // { type: 'mcp', tools: ['search'], arguments: { q: { maxLength: 200 } } }
 */
export function canonicalMcpDetail(value: unknown): McpAuthorizationDetail {
  const problem = mcpDetailProblem(value);
  if (problem !== undefined) throw new McpDetailError(problem);
  const d = value as McpAuthorizationDetail;
  const args = d.arguments === undefined ? [] : Object.entries(d.arguments);
  return {
    type: 'mcp',
    ...(d.locations !== undefined ? { locations: [...new Set(d.locations)] } : {}),
    ...(d.tools !== undefined ? { tools: [...new Set(d.tools)] } : {}),
    ...(d.resources !== undefined ? { resources: [...new Set(d.resources)] } : {}),
    ...(d.prompts !== undefined ? { prompts: [...new Set(d.prompts)] } : {}),
    ...(args.length > 0 ? { arguments: Object.fromEntries(args.map(([n, c]) => [n, canonicalArgumentConstraint(c)])) } : {}),
  };
}

/**
 * True when some well-formed `mcp` detail covers this tool call: its `locations` (when present) include the
 * resource, one of its tool patterns matches the tool name, and every argument it constrains is an own member of
 * the call's arguments that satisfies the constraint. `http` details never cover a tool call.
 *
 * @example
 * const details = [{ type: 'mcp', tools: ['search'], arguments: { q: { maxLength: 200 } } }];
 * matchMcpToolCall(details, { resource: aud, tool: 'search', arguments: { q: 'writ' } }); // true
 * matchMcpToolCall(details, { resource: aud, tool: 'search', arguments: {} }); // false: q is constrained, so required
 */
export function matchMcpToolCall(details: readonly TaskAuthorizationDetail[], call: McpToolCall): boolean {
  return matchNamedCall(details, 'tools', call.resource, call.tool, call.arguments);
}

/**
 * True when some well-formed `mcp` detail covers this `prompts/get`: as for tools, with `prompts` for `tools`.
 *
 * @example
 * matchMcpPromptGet([{ type: 'mcp', prompts: ['summarise'] }], { resource: aud, prompt: 'summarise' }); // true
 */
export function matchMcpPromptGet(
  details: readonly TaskAuthorizationDetail[],
  call: { resource: string; prompt: string; arguments?: unknown },
): boolean {
  return matchNamedCall(details, 'prompts', call.resource, call.prompt, call.arguments);
}

function matchNamedCall(
  details: readonly TaskAuthorizationDetail[],
  member: 'tools' | 'prompts',
  resource: unknown,
  name: unknown,
  argsIn: unknown,
): boolean {
  if (typeof resource !== 'string' || !isMcpToolName(name)) return false;
  const args = argsIn === undefined ? {} : argsIn;
  if (!isPlainObject(args)) return false;
  for (const d of details) {
    if (!isMcp(d)) continue;
    if (d.locations !== undefined && !d.locations.includes(resource)) continue;
    if (!(d[member] ?? []).some((t) => toolPatternMatches(t, name))) continue;
    if (d.arguments === undefined || Object.entries(d.arguments).every(([n, c]) => argumentSatisfies(args, n, c))) return true;
  }
  return false;
}

/**
 * May the task read (or subscribe to) this resource URI? True when a well-formed `mcp` detail for this MCP resource
 * names it, exactly or by a prefix (prefixes only ever match plain URIs, without dot segments or encoded slashes).
 *
 * @example
 * mcpResourcePermitted([{ type: 'mcp', resources: ['file:///srv/reports/*'] }], aud, 'file:///srv/reports/q3.pdf'); // true
 * mcpResourcePermitted([{ type: 'mcp', resources: ['file:///srv/reports/*'] }], aud, 'file:///srv/reports/../keys'); // false
 */
export function mcpResourcePermitted(details: readonly TaskAuthorizationDetail[], resource: string, uri: unknown): boolean {
  if (typeof uri !== 'string') return false;
  return details.some(
    (d) =>
      isMcp(d) &&
      (d.locations === undefined || d.locations.includes(resource)) &&
      (d.resources ?? []).some((p) => resourcePatternMatches(p, uri)),
  );
}

/** May the task get this prompt with some arguments? What `prompts/list` shows. */
export function mcpPromptPermitted(details: readonly TaskAuthorizationDetail[], resource: string, prompt: string): boolean {
  return namedPermitted(details, 'prompts', resource, prompt);
}

/**
 * May the task call this tool with some arguments? True when a well-formed `mcp` detail for this resource names it,
 * whatever arguments it constrains: what `tools/list` shows the agent. Each call is still decided by
 * {@link matchMcpToolCall}.
 *
 * @example
 * mcpToolPermitted([{ type: 'mcp', tools: ['read*'], arguments: { path: { pathPrefix: '/srv' } } }], aud, 'read_file'); // true
 */
export function mcpToolPermitted(details: readonly TaskAuthorizationDetail[], resource: string, tool: string): boolean {
  return namedPermitted(details, 'tools', resource, tool);
}

function namedPermitted(details: readonly TaskAuthorizationDetail[], member: 'tools' | 'prompts', resource: string, name: string): boolean {
  if (!isMcpToolName(name)) return false;
  return details.some(
    (d) =>
      isMcp(d) &&
      (d.locations === undefined || d.locations.includes(resource)) &&
      (d[member] ?? []).some((t) => toolPatternMatches(t, name)),
  );
}

function argumentSatisfies(args: object, name: string, c: ArgumentConstraint): boolean {
  // Own data members only: an inherited `constructor` or a getter is not an argument the caller sent.
  const member = Object.getOwnPropertyDescriptor(args, name);
  return member !== undefined && 'value' in member && satisfiesConstraint(c, member.value);
}

/**
 * Do the parent details allow every call the child detail allows? Decided per child tool pattern: some one parent
 * detail must have compatible locations (as for `http`: a child without `locations` only under a parent without
 * them), a tool pattern containing it, and every argument constraint implied by the child's constraint on the same
 * argument. A call the child allows names a tool of one of its patterns and satisfies all its constraints, so that
 * parent detail allows it too. False for anything malformed.
 */
export function mcpDetailCovered(child: unknown, parents: readonly unknown[]): boolean {
  if (!isMcp(child)) return false;
  const located = parents.filter(isMcp).filter((p) => locationsCover(p, child));
  // Tools and prompts carry the detail's argument constraints; resources have none.
  const constrained = located.filter((p) => constraintsCover(p, child));
  const covered = (member: 'tools' | 'prompts' | 'resources', candidates: McpAuthorizationDetail[]): boolean =>
    (child[member] ?? []).every((t) => candidates.some((p) => (p[member] ?? []).some((pt) => patternContains(member, pt, t))));
  return covered('tools', constrained) && covered('prompts', constrained) && covered('resources', located);
}

/** Containment of patterns: a resource prefix matches only plain URIs, so it never covers an exact non-plain one. */
function patternContains(member: 'tools' | 'prompts' | 'resources', outer: string, inner: string): boolean {
  if (member !== 'resources' || !outer.endsWith('*') || inner.endsWith('*')) return toolPatternContains(outer, inner);
  return resourcePatternMatches(outer, inner);
}

function locationsCover(parent: McpAuthorizationDetail, child: McpAuthorizationDetail): boolean {
  return parent.locations === undefined || (child.locations !== undefined && child.locations.every((l) => parent.locations?.includes(l)));
}

function constraintsCover(parent: McpAuthorizationDetail, child: McpAuthorizationDetail): boolean {
  if (parent.arguments === undefined) return true;
  const childArgs = child.arguments ?? {};
  return Object.entries(parent.arguments).every(([name, pc]) => {
    const cc = Object.prototype.hasOwnProperty.call(childArgs, name) ? childArgs[name] : undefined;
    return cc !== undefined && constraintImplies(cc, pc);
  });
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
