/**
 * What a task asks for: RFC 9396 `authorization_details` (a JSON array of typed objects) and/or the OAuth `scope`
 * (RFC 6749 §3.3: space-separated scope names the resource defines, each standing for a bundle of details). At
 * least one of the two — a task starts with nothing. A detail must be of the resource's kind (`http` details for an
 * HTTP API, `mcp` details for an MCP server); unknown types, missing or malformed fields, or `locations` other than
 * the requested resource are `invalid_authorization_details` (RFC 9396 §5); a malformed or unknown scope name is
 * `invalid_scope` (RFC 6749 §5.2). Path patterns and `mcp` details are validated and put in canonical form by the
 * shared implementation in @writ/verify, so issuance and enforcement read them the same way.
 */
import { z } from 'zod';
import {
  BUDGET_DETAIL_TYPE,
  HTTP_METHODS,
  type AuthorizationDetail,
  type BudgetAuthorizationDetail,
  type HttpAuthorizationDetail,
  type McpAuthorizationDetail,
  type TaskAuthorizationDetail,
} from '@writ/protocol';
import { canonicalMcpDetail, canonicalPathPattern, McpDetailError } from '@writ/verify/internal';
import { OAuthError } from '../../errors/index.js';
import type { Resource } from '../../register/index.js';

const MAX_DETAILS = 32;
const MAX_ITEMS = 64;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const httpDetail = z.strictObject({
  type: z.literal('http'),
  locations: z.array(z.string()).min(1).max(4).optional(),
  actions: z.array(z.enum(HTTP_METHODS)).min(1).max(HTTP_METHODS.length),
  paths: z.array(z.string().min(1).max(1024)).min(1).max(MAX_ITEMS),
});

/** A requested budget: only narrows what the grants allow (evaluate-issuance-policy.ts). */
const limit = z.number().int().min(1).max(1_000_000_000);
const budgetDetail = z
  .strictObject({
    type: z.literal(BUDGET_DETAIL_TYPE),
    calls: limit.optional(),
    calls_per_minute: limit.optional(),
    calls_per_action: limit.optional(),
  })
  .refine((b) => Object.keys(b).length > 1, 'a writ_budget names at least one of calls, calls_per_minute, calls_per_action');

export interface RequestedDetails {
  /**
   * The parsed `authorization_details` (a `writ_budget` among them, if asked for), then each requested scope's
   * details, in the order the scopes were named.
   */
  requested: TaskAuthorizationDetail[];
  /** The requested scope names, without duplicates. */
  scopes: string[];
}

/**
 * Parses what the token request asks for on this resource. Details get `locations: [resourceUri]`.
 *
 * @example
 * parseRequestedDetails({ scope: 'files.read' }, resource, 'https://writ.example/r/files');
 * // { requested: [{ type: 'mcp', tools: ['read_file'], locations: ['https://writ.example/r/files'] }], scopes: ['files.read'] }
 */
export function parseRequestedDetails(
  input: { authorization_details?: string; scope?: string },
  resource: Resource,
  resourceUri: string,
): RequestedDetails {
  if (input.authorization_details === undefined && input.scope === undefined) {
    throw new OAuthError('invalid_request', 'authorization_details or scope is required: a task starts with nothing');
  }
  const explicit =
    input.authorization_details === undefined ? [] : parseAuthorizationDetails(input.authorization_details, resourceUri, resource.kind);
  const scopes = input.scope === undefined ? [] : parseScope(input.scope);
  return { requested: [...explicit, ...scopes.flatMap((s) => scopeDetails(resource, s, resourceUri))], scopes };
}

/** RFC 6749 §3.3: `scope-token *( SP scope-token )`; repeated names count once. */
function parseScope(scope: string): string[] {
  const names = scope.split(' ');
  if (names.some((n) => !SCOPE_TOKEN.test(n))) throw new OAuthError('invalid_scope', 'scope is malformed (RFC 6749 §3.3)');
  return [...new Set(names)];
}

/** The details a resource's scope stands for, located at the resource; an unknown name is `invalid_scope`. */
export function scopeDetails(resource: Resource, name: string, resourceUri: string): AuthorizationDetail[] {
  // Own members only: a scope named like an Object.prototype member must not find one.
  const details = Object.prototype.hasOwnProperty.call(resource.scopes, name) ? resource.scopes[name] : undefined;
  if (details === undefined) throw new OAuthError('invalid_scope', `unknown scope ${JSON.stringify(name)}`);
  return details.map((d) => ({ ...d, locations: [resourceUri] }));
}

/**
 * RFC 9396 `authorization_details` for a resource of the given kind (`http` when not given), in canonical form with
 * `locations: [resourceUri]`.
 */
export function parseAuthorizationDetails(
  raw: string | undefined,
  resourceUri: string,
  kind: Resource['kind'] = 'http',
): TaskAuthorizationDetail[] {
  if (raw === undefined)
    throw new OAuthError('invalid_authorization_details', 'authorization_details is required: a task starts with nothing');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new OAuthError('invalid_authorization_details', 'authorization_details must be a JSON array');
  }
  if (!Array.isArray(json) || json.length === 0 || json.length > MAX_DETAILS) {
    throw new OAuthError('invalid_authorization_details', `authorization_details must be a JSON array of 1 to ${MAX_DETAILS} objects`);
  }
  let budgets = 0;
  return json.map((item: unknown, i): TaskAuthorizationDetail => {
    const type = (item as { type?: unknown } | null)?.type;
    if (type === BUDGET_DETAIL_TYPE) {
      if (++budgets > 1) throw new OAuthError('invalid_authorization_details', `authorization_details[${i}]: at most one writ_budget`);
      return parseBudgetDetail(item, i);
    }
    if (type !== 'http' && type !== 'mcp')
      throw new OAuthError(
        'invalid_authorization_details',
        `authorization_details[${i}]: unsupported type ${JSON.stringify(type ?? null)}`,
      );
    if (type !== kind) {
      throw new OAuthError('invalid_authorization_details', `authorization_details[${i}]: type ${type} does not fit an ${kind} resource`);
    }
    const d = type === 'http' ? parseHttpDetail(item, i) : parseMcpDetail(item, i);
    if (d.locations !== undefined && !d.locations.every((l) => l === resourceUri)) {
      throw new OAuthError('invalid_authorization_details', `authorization_details[${i}].locations must name the requested resource`);
    }
    return { ...d, locations: [resourceUri] };
  });
}

function parseBudgetDetail(item: unknown, i: number): BudgetAuthorizationDetail {
  const r = budgetDetail.safeParse(item);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new OAuthError(
      'invalid_authorization_details',
      `authorization_details[${i}]${issue !== undefined && issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const b: BudgetAuthorizationDetail = { type: BUDGET_DETAIL_TYPE };
  if (r.data.calls !== undefined) b.calls = r.data.calls;
  if (r.data.calls_per_minute !== undefined) b.calls_per_minute = r.data.calls_per_minute;
  if (r.data.calls_per_action !== undefined) b.calls_per_action = r.data.calls_per_action;
  return b;
}

function parseHttpDetail(item: unknown, i: number): HttpAuthorizationDetail {
  const r = httpDetail.safeParse(item);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new OAuthError(
      'invalid_authorization_details',
      `authorization_details[${i}].${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const d = r.data;
  const paths = d.paths.map((p) => {
    try {
      return canonicalPathPattern(p);
    } catch (err) {
      throw new OAuthError(
        'invalid_authorization_details',
        `authorization_details[${i}].paths: ${JSON.stringify(p)} is not a valid path pattern`,
        {
          detail: String(err),
        },
      );
    }
  });
  return {
    type: 'http',
    ...(d.locations !== undefined ? { locations: d.locations } : {}),
    actions: [...new Set(d.actions)],
    paths: [...new Set(paths)],
  };
}

function parseMcpDetail(item: unknown, i: number): McpAuthorizationDetail {
  try {
    return canonicalMcpDetail(item);
  } catch (err) {
    if (!(err instanceof McpDetailError)) throw err;
    throw new OAuthError('invalid_authorization_details', `authorization_details[${i}]: ${err.message}`);
  }
}
