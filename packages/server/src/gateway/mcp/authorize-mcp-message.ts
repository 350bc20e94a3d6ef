/**
 * What the gateway does with each JSON-RPC method an agent sends, decided before anything reaches the upstream.
 * A closed list: a method not named here is refused, so a method the upstream understands but Writ does not (or a
 * spelling that differs by case) cannot slip past the check.
 *
 * - `tools/call` is decided on its own: the tool must be one the upstream lists (exact name), covered by the task's
 *   authorization details with its arguments, and permitted by the call-time grants;
 * - `tools/list` is relayed and filtered to the tools the task may call;
 * - resources and prompts follow the same rule; Writ's `mcp` authorization details name tools only, so no task may
 *   read a resource or get a prompt yet: their lists come back empty and their reads are refused;
 * - `completion/complete` could reveal prompt and resource content: refused; so are tasks (not yet modelled).
 */
export type MethodRule = 'local-ping' | 'discover' | 'relay' | 'tools-list' | 'tools-call' | 'empty-list' | 'refuse';

const REQUEST_RULES: Readonly<Record<string, MethodRule>> = {
  ping: 'local-ping',
  'server/discover': 'discover',
  'tools/list': 'tools-list',
  'tools/call': 'tools-call',
  'logging/setLevel': 'relay',
  'resources/list': 'empty-list',
  'resources/templates/list': 'empty-list',
  'prompts/list': 'empty-list',
  'resources/read': 'refuse',
  'resources/subscribe': 'refuse',
  'resources/unsubscribe': 'refuse',
  'prompts/get': 'refuse',
  'completion/complete': 'refuse',
  // 2026-07-28's replacement for the GET stream: not offered (upstream notifications need a session).
  'subscriptions/listen': 'refuse',
};

/** Which member of an empty list result holds the items. */
export const LIST_MEMBER: Readonly<Record<string, string>> = {
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
  'prompts/list': 'prompts',
};

/** The rule for a request method; undefined: unknown to the gateway (JSON-RPC "method not found"). */
export function methodRule(method: string): MethodRule | undefined {
  return Object.prototype.hasOwnProperty.call(REQUEST_RULES, method) ? REQUEST_RULES[method] : undefined;
}

/** Notifications the agent may send upstream; others (`roots/list_changed` among them) are dropped. */
export const RELAYED_NOTIFICATIONS = new Set(['notifications/initialized', 'notifications/progress', 'notifications/cancelled']);
