/**
 * What the gateway does with each JSON-RPC method an agent sends, decided before anything reaches the upstream.
 * A closed list: a method not named here is refused, so a method the upstream understands but Writ does not (or a
 * spelling that differs by case) cannot slip past the check.
 *
 * - `tools/call` is decided on its own: the tool must be one the upstream lists (exact name), covered by the task's
 *   authorization details with its arguments, and permitted by the call-time grants;
 * - `tools/list` is relayed and filtered to the tools the task may call;
 * - resources and prompts follow the same rule: `resources/list` and `prompts/list` are filtered to what the task's
 *   `mcp` details name, each `resources/read` (and subscription) and `prompts/get` is decided on its own against the
 *   details (URI, prompt name and arguments) and the call-time grants (`mcp_resource`, `mcp_prompt`); resource
 *   templates are listed only to a task that may read every URI (`resources: ["*"]`), since a template stands for
 *   URIs no list can check in advance;
 * - `completion/complete` could reveal prompt and resource content: refused; so are tasks (not yet modelled).
 */
export type MethodRule =
  | 'local-ping'
  | 'discover'
  | 'relay'
  | 'tools-list'
  | 'tools-call'
  | 'resources-list'
  | 'templates-list'
  | 'resource-read'
  | 'prompts-list'
  | 'prompt-get'
  | 'refuse';

const REQUEST_RULES: Readonly<Record<string, MethodRule>> = {
  ping: 'local-ping',
  'server/discover': 'discover',
  'tools/list': 'tools-list',
  'tools/call': 'tools-call',
  'logging/setLevel': 'relay',
  'resources/list': 'resources-list',
  'resources/templates/list': 'templates-list',
  'prompts/list': 'prompts-list',
  'resources/read': 'resource-read',
  'resources/subscribe': 'resource-read',
  'resources/unsubscribe': 'resource-read',
  'prompts/get': 'prompt-get',
  'completion/complete': 'refuse',
  // 2026-07-28's replacement for the GET stream: not offered (upstream notifications need a session).
  'subscriptions/listen': 'refuse',
};

/** The rule for a request method; undefined: unknown to the gateway (JSON-RPC "method not found"). */
export function methodRule(method: string): MethodRule | undefined {
  return Object.prototype.hasOwnProperty.call(REQUEST_RULES, method) ? REQUEST_RULES[method] : undefined;
}

/** Notifications the agent may send upstream; others (`roots/list_changed` among them) are dropped. */
export const RELAYED_NOTIFICATIONS = new Set(['notifications/initialized', 'notifications/progress', 'notifications/cancelled']);
