/**
 * Writ's RFC 9396 authorization detail types. The token carries only details that were both requested and
 * granted; enforcement points match every call against them structurally (see @writ/verify).
 *
 * `http`: `actions` are HTTP methods (upper case), `paths` are path patterns relative to the resource's base URL:
 * segments separated by `/`, where a segment `*` matches exactly one non-empty segment and a final segment `**`
 * matches zero or more segments. Everything else matches literally, after normalisation.
 *
 * `mcp`: requests to an MCP resource — tool calls, resource reads, prompt gets. A detail names at least one of:
 * - `tools` are MCP tool names (1–128 characters of `[A-Za-z0-9_.-]`) matched exactly; a name followed by a single
 *   `*` matches every tool name that starts with it (`read*` covers `read`, `read_file` and `readme_delete` alike:
 *   a prefix is a plain string prefix, not a word boundary), and `*` alone matches every tool.
 * - `resources` are resource URIs (`resources/read`, `resources/subscribe`), 1–2048 printable ASCII characters,
 *   matched exactly, or with a final `*` as a plain string prefix (`file:///srv/reports/*`). A URI matches a prefix
 *   only when it has no `.` or `..` path segments, no percent-encoded `.`, `/` or `\`, no backslash and no control
 *   characters, so a prefix cannot be escaped by a spelling the server resolves differently; `*` alone matches
 *   every URI.
 * - `prompts` are prompt names (`prompts/get`), with the same syntax and matching as `tools`.
 * - `arguments` constrains named top-level arguments of every call the detail covers (its tools and prompts; a
 *   resource read has no arguments). A call is
 *   covered only when each named argument is present as the call's own member and satisfies its constraint; a
 *   missing constrained argument does not match. Arguments the detail does not name are not constrained.
 * - An {@link ArgumentConstraint} is exactly one of:
 *   - `{ enum: [...] }` — 1 to 64 JSON scalars; the value must equal one of them, type included (`1` is not `"1"`);
 *   - `{ prefix: "..." }` — the value is a string that starts with it;
 *   - `{ range: { min?, max? } }` — the value is a finite number with `min ≤ value ≤ max` (bounds inclusive);
 *   - `{ maxLength: n }` — the value is a string of at most `n` Unicode code points (JSON Schema's way of counting);
 *   - `{ pathPrefix: "/srv/data" }` — the value is a canonical absolute POSIX path (starts with `/`; no empty, `.` or
 *     `..` segments; no trailing `/`; no backslash or NUL) that is the given directory or lies below it, segment-wise
 *     (`/srv/data2` is not under `/srv/data`). A plain `prefix` cannot say this: `/srv/data/../../etc` starts with
 *     `/srv/data/`. A path that is not canonical never matches: an agent spells paths plainly or not at all.
 *   Nothing else — no regular expressions, no nested paths — so that enforcement points agree and attenuation can be
 *   decided structurally (a sub-agent's constraint must imply its parent's). Arrays and objects never satisfy a
 *   constraint. `__proto__` is not a valid argument name.
 * In both types a detail that is malformed in any way grants nothing.
 */

export const AUTHORIZATION_DETAIL_TYPES = ['http', 'mcp'] as const;
export type AuthorizationDetailType = (typeof AUTHORIZATION_DETAIL_TYPES)[number];

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface HttpAuthorizationDetail {
  type: 'http';
  /** Resource URIs this detail applies to (RFC 9396 §2.2 `locations`); defaults to the token's audience. */
  locations?: string[];
  actions: HttpMethod[];
  paths: string[];
}

/** A JSON scalar an `enum` constraint may list. */
export type ArgumentScalar = string | number | boolean;

/** A condition on one top-level tool-call argument; exactly one member. */
export type ArgumentConstraint =
  | { enum: ArgumentScalar[] }
  | { prefix: string }
  | { range: { min?: number; max?: number } }
  | { maxLength: number }
  | { pathPrefix: string };

/** MCP tool calls: which tools, and conditions on their arguments. */
export interface McpAuthorizationDetail {
  type: 'mcp';
  /** Resource URIs this detail applies to (RFC 9396 §2.2 `locations`); defaults to the token's audience. */
  locations?: string[];
  /** Exact tool names, `prefix*` patterns, or `*`. */
  tools?: string[];
  /** Resource URIs: exact, `prefix*`, or `*`. */
  resources?: string[];
  /** Prompt names: exact, `prefix*`, or `*`. */
  prompts?: string[];
  /** Argument name → constraint, applied to every call of every tool and prompt above. */
  arguments?: Record<string, ArgumentConstraint>;
}

export type AuthorizationDetail = HttpAuthorizationDetail | McpAuthorizationDetail;

/**
 * `writ_budget`: how much a task may do, not what — at most one per token, granting nothing by itself. Set by the
 * grants that permitted the task (`@budget`), narrowed by the task request, never widened by a sub-agent's. Counted
 * across every node: `calls` in all, `calls_per_minute` in each minute, `calls_per_action` for each tool (MCP) or
 * method and path (HTTP). A call past one is refused with 429 (`ERR_BUDGET_EXHAUSTED`, `ERR_RATE_LIMITED`).
 */
export interface BudgetAuthorizationDetail {
  type: 'writ_budget';
  calls?: number;
  calls_per_minute?: number;
  calls_per_action?: number;
}

export const BUDGET_DETAIL_TYPE = 'writ_budget';
export const BUDGET_LIMITS = ['calls', 'calls_per_minute', 'calls_per_action'] as const;

/** What a task token's `authorization_details` holds: what the task may do, and at most one budget. */
export type TaskAuthorizationDetail = AuthorizationDetail | BudgetAuthorizationDetail;

/** The budget detail among a token's details, if any. */
export function budgetOf(details: readonly TaskAuthorizationDetail[]): BudgetAuthorizationDetail | undefined {
  return details.find((d): d is BudgetAuthorizationDetail => d.type === BUDGET_DETAIL_TYPE);
}

/** The details that say what the task may do (everything but the budget). */
export function accessDetails(details: readonly TaskAuthorizationDetail[]): AuthorizationDetail[] {
  return details.filter((d): d is AuthorizationDetail => d.type !== BUDGET_DETAIL_TYPE);
}
