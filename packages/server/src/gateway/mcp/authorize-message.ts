/**
 * What the gateway does with each JSON-RPC method an agent sends, decided before anything reaches the upstream, and
 * the one path every decided method and every filtered list goes through.
 * A closed list: a method not named here is refused, so a method the upstream understands but Writ does not (or a
 * spelling that differs by case) cannot slip past the check.
 *
 * - `tools/call` is decided on its own: the tool must be one the upstream lists (exact name), not killed at Writ
 *   (`writ revoke tool`), covered by the task's authorization details with its arguments, and permitted by the
 *   call-time grants — and when an `@approval` grant permits it, approved by a person for exactly these arguments;
 * - `tools/list` is relayed and filtered to the tools the task may call: killed tools and tools the call-time grants
 *   deny (a `forbid`, say) are hidden as well as those outside the details;
 * - resources and prompts follow the same rule: `resources/list` and `prompts/list` are filtered to what the task's
 *   `mcp` details name, each `resources/read` (and subscription) and `prompts/get` is decided on its own against the
 *   details (URI, prompt name and arguments) and the call-time grants (`mcp_resource`, `mcp_prompt`); resource
 *   templates are listed only to a task that may read every URI (`resources: ["*"]`), since a template stands for
 *   URIs no list can check in advance;
 * - `completion/complete` could reveal prompt and resource content: refused; so are tasks (not yet modelled).
 */
import { ERROR_CODES, WritError, type DenialHint, type ErrorCode, type TaskAuthorizationDetail } from '@writ/protocol';
import { matchMcpPromptGet, matchMcpToolCall, mcpPromptPermitted, mcpResourcePermitted, mcpToolPermitted } from '@writ/verify';
import { RPC, type JsonRpcMessage, type RpcErrorCode } from '../../errors/index.js';
import { canonicalJson } from '../../audit/index.js';
import { sha256Hex } from '../../crypto/index.js';
import type { ResourceAction } from '../../policy/index.js';
import type { CallState } from '../gateway-audit.js';
import type { CallEnforcer, Caller } from '../enforce-call.js';
import type { ClassifiedMessage } from './json-rpc.js';

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

/** A refusal of one JSON-RPC request: answered as a JSON-RPC error carrying the Writ code, audited with it. */
export class RpcDenial extends WritError {
  readonly rpcCode: RpcErrorCode;
  constructor(code: ErrorCode, rpcCode: RpcErrorCode, detail: string, hint?: DenialHint) {
    super(code, detail, hint);
    this.name = 'RpcDenial';
    this.rpcCode = rpcCode;
  }
  /** The public message: the code's fixed one. */
  get publicMessage(): string {
    return ERROR_CODES[this.code].message;
  }
}

/** How each decided method names its target, how the task's details judge it, and which Cedar action asks the grants. */
interface DecidedMethod {
  /** The params member that names the target. */
  member: 'name' | 'uri';
  /** The audit data key for the target, and how much of it the record keeps. */
  label: 'tool' | 'uri' | 'prompt';
  keep: number;
  /** The target must be one the upstream itself lists, by its exact name; a killed one is refused. */
  listed: boolean;
  /** Arguments are constrained by the details and digested into the audit record. */
  withArguments: boolean;
  permitted(details: TaskAuthorizationDetail[], audience: string, target: string, args: unknown): boolean;
  action(target: string): ResourceAction;
}

const DECIDED: Readonly<Partial<Record<MethodRule, DecidedMethod>>> = {
  'tools-call': {
    member: 'name',
    label: 'tool',
    keep: 128,
    listed: true,
    withArguments: true,
    permitted: (details, resource, tool, args) => matchMcpToolCall(details, { resource, tool, arguments: args }),
    action: (tool) => ({ action: 'mcp_tool', tool }),
  },
  'resource-read': {
    member: 'uri',
    label: 'uri',
    keep: 512,
    listed: false,
    withArguments: false,
    permitted: (details, resource, uri) => mcpResourcePermitted(details, resource, uri),
    action: (uri) => ({ action: 'mcp_resource', uri }),
  },
  'prompt-get': {
    member: 'name',
    label: 'prompt',
    keep: 128,
    listed: false,
    withArguments: true,
    permitted: (details, resource, prompt, args) => matchMcpPromptGet(details, { resource, prompt, arguments: args }),
    action: (prompt) => ({ action: 'mcp_prompt', prompt }),
  },
};

export interface MessageAuthorization {
  caller: Caller;
  enforcer: CallEnforcer;
  /** Every tool name the upstream lists (asked once per session, again after `tools/list_changed`). */
  knownTools(): Promise<Set<string>>;
}

/**
 * Decides one request of a decided method (tools/call, resources/read and subscriptions, prompts/get): the target
 * is named, (for tools) listed by the upstream, covered by the task's details with its arguments, and permitted by
 * the call-time grants. Fills the audit `data` and `state.action`; returns the grants behind the allow; throws an
 * RpcDenial. Other methods need no decision here and return no grants.
 */
export async function authorizeRequest(
  rule: MethodRule,
  msg: Extract<ClassifiedMessage, { kind: 'request' }>,
  ctx: MessageAuthorization,
  state: CallState,
  data: Record<string, unknown>,
): Promise<string[]> {
  const m = DECIDED[rule];
  if (m === undefined) return [];
  const target = msg.params?.[m.member];
  const args = msg.params?.['arguments'];
  if (typeof target !== 'string')
    throw new RpcDenial(
      'ERR_MCP_MESSAGE_INVALID',
      RPC.invalidParams,
      `${msg.method} without a ${m.member === 'uri' ? 'uri' : `${m.label} name`}`,
    );
  data[m.label] = target.slice(0, m.keep);
  if (m.withArguments) data['arguments_digest'] = sha256Hex(canonicalJson(args ?? {}));
  const shown = target.slice(0, Math.min(m.keep, 256));
  state.action = `${msg.method} ${shown}`;
  // A case or look-alike variant of a listed tool never reaches the upstream.
  if (m.listed && !(await ctx.knownTools()).has(target))
    throw new RpcDenial('ERR_MCP_TOOL_UNKNOWN', RPC.invalidParams, `unknown ${m.label} ${JSON.stringify(shown)}`);
  const { caller } = ctx;
  if (m.listed && ctx.enforcer.deps.check.revocations.toolRevoked(caller.resource.id, target))
    throw new RpcDenial('ERR_REVOKED_TOOL', RPC.forbidden, `${m.label} ${JSON.stringify(shown)} is revoked`);
  if (!m.permitted(caller.claims.authorization_details, caller.audience, target, args))
    throw new RpcDenial('ERR_ACTION_NOT_AUTHORIZED', RPC.forbidden, `${msg.method} ${shown} is not in the task's authorization_details`);
  try {
    const grants = await ctx.enforcer.grant(caller, m.action(target), m.withArguments ? { arguments: args } : {});
    const taken = await ctx.enforcer.takeBudget(caller, grants, `${m.label} ${target}`);
    const rule = ctx.enforcer.approvalRule(grants);
    if (rule !== null)
      try {
        data['approval'] = await ctx.enforcer.holdForApproval(caller, rule, { action: msg.method, target, arguments: args ?? {} });
      } catch (err) {
        // Held back (or denied): the call was not made, so it spends nothing.
        await taken?.giveBack();
        throw err;
      }
    return grants;
  } catch (err) {
    if (err instanceof WritError && REFUSALS_AS_RPC.has(err.code)) throw new RpcDenial(err.code, RPC.forbidden, err.detail ?? '', err.hint);
    throw err;
  }
}

/** Refusals of the call itself (not of the message): answered as JSON-RPC errors carrying the code and its hint. */
const REFUSALS_AS_RPC: ReadonlySet<ErrorCode> = new Set([
  'ERR_POLICY_DENIED',
  'ERR_APPROVAL_REQUIRED',
  'ERR_APPROVAL_DENIED',
  'ERR_RATE_LIMITED',
  'ERR_BUDGET_EXHAUSTED',
]);

/** The list member of each filtered list answer. */
const LISTS = {
  'tools-list': 'tools',
  'resources-list': 'resources',
  'templates-list': 'resourceTemplates',
  'prompts-list': 'prompts',
} as const satisfies Partial<Record<MethodRule, string>>;

export type ListRule = keyof typeof LISTS;

export function isListRule(rule: MethodRule): rule is ListRule {
  return rule in LISTS;
}

/** The items of a list answer, or undefined when the answer is not a list result (an error, a malformed result). */
export function listItems(answer: JsonRpcMessage, rule: ListRule): Record<string, unknown>[] | undefined {
  const result = answer['result'] as Record<string, unknown> | undefined;
  const items = result?.[LISTS[rule]];
  return Array.isArray(items) ? (items as Record<string, unknown>[]) : undefined;
}

/**
 * A list answer filtered to what the task may call, read or get; `data` records how many were shown and hidden.
 * Tools are listed only when `tools/call` would be let through for them as far as a list can tell (no arguments yet):
 * in the details, not killed, and permitted by the call-time grants. Resource templates are listed only to a task
 * that may read every URI: a template stands for URIs no list can check in advance.
 */
export async function filterList(
  answer: JsonRpcMessage,
  rule: ListRule,
  ctx: Pick<MessageAuthorization, 'caller' | 'enforcer'>,
  data: Record<string, unknown>,
): Promise<JsonRpcMessage> {
  const all = listItems(answer, rule);
  if (all === undefined) return answer;
  const { caller, enforcer } = ctx;
  const details = caller.claims.authorization_details;
  const audience = caller.audience;
  const everyUri = details.some(
    (d) => d.type === 'mcp' && (d.resources ?? []).includes('*') && (d.locations ?? [audience]).includes(audience),
  );
  const keep = (item: Record<string, unknown>): boolean => {
    const name = item['name'];
    switch (rule) {
      case 'tools-list':
        return typeof name === 'string' && mcpToolPermitted(details, audience, name);
      case 'resources-list':
        return mcpResourcePermitted(details, audience, item['uri']);
      case 'templates-list':
        return everyUri;
      case 'prompts-list':
        return typeof name === 'string' && mcpPromptPermitted(details, audience, name);
    }
  };
  let shown = all.filter((i) => typeof i === 'object' && i !== null && keep(i));
  if (rule === 'tools-list') {
    const revocations = enforcer.deps.check.revocations;
    const callable = await Promise.all(
      shown.map(async (item) => {
        const tool = item['name'] as string;
        if (revocations.toolRevoked(caller.resource.id, tool)) return false;
        return enforcer.grant(caller, { action: 'mcp_tool', tool }, { observe: false }).then(
          () => true,
          (err: unknown) => {
            if (err instanceof WritError && err.code === 'ERR_POLICY_DENIED') return false;
            throw err;
          },
        );
      }),
    );
    shown = shown.filter((_, i) => callable[i] === true);
  }
  data['listed'] = shown.length;
  data['hidden'] = all.length - shown.length;
  const result = answer['result'] as Record<string, unknown>;
  return { ...answer, result: { ...result, [LISTS[rule]]: shown } };
}
