/**
 * The audit event: who (user, agent chain), what (type, resource, action), under
 * which task and W3C trace, the decision and its stable reason code. `body` = canonical JSON of the event; the hash
 * chain covers it.
 */
import { timeOrderedTraceId, uuidv7 } from '../ids/index.js';
import { canonicalJson } from './canonical-json.js';

/** The types Writ itself writes; others (plugins, later features) may add their own dotted names. */
export const AUDIT_EVENT_TYPES = [
  'token.issued',
  'token.delegated',
  'token.denied',
  'call.allowed',
  'call.denied',
  'call.outcome',
  'secret.scrubbed',
  'connection.denied',
  'task.completed',
  'task.revoked',
  'revocation.created',
  'revocation.lifted',
  'approval.requested',
  'approval.decided',
  'approval.used',
  'approval.refused',
  'policy.observed',
  'admin.change',
  'admin.denied',
  'ssf.denied',
  'request.refused',
  'token.revoke_ignored',
  'client.registered',
  'authorization.signed_in',
  'authorization.denied',
  'consent.granted',
  'consent.revoked',
  'console.signed_in',
  'console.signed_out',
  'console.denied',
] as const;

// `string & {}` keeps the literal union visible to editors while accepting any string.
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number] | (string & {});

export interface AuditEvent {
  /** UUID (v7, time-ordered, when the writer assigns it). */
  id: string;
  /** Epoch milliseconds. */
  time: number;
  type: AuditEventType;
  /** W3C Trace Context trace-id: 32 lower-case hex digits, not all zero. */
  trace_id: string;
  span_id?: string | undefined;
  traceparent?: string | undefined;
  task_id?: string | undefined;
  agent_id?: string | undefined;
  user_id?: string | undefined;
  /** The delegation chain, oldest first: the user, then each agent. */
  actor_chain?: string[] | undefined;
  resource?: string | undefined;
  action?: string | undefined;
  decision?: 'allow' | 'deny' | undefined;
  /** A stable code (`granted`, `ERR_POLICY_DENIED`), not prose. */
  reason?: string | undefined;
  detail?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

/** What producers hand to `record`: the writer fills in `id`, `time` and `trace_id` when absent. */
export type AuditEventInput = Omit<AuditEvent, 'id' | 'time' | 'trace_id'> & { id?: string; time?: number; trace_id?: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;
const SPAN_ID = /^(?!0{16})[0-9a-f]{16}$/;
const STRING_FIELDS = [
  'type',
  'span_id',
  'traceparent',
  'task_id',
  'agent_id',
  'user_id',
  'resource',
  'action',
  'reason',
  'detail',
] as const;
const KNOWN = new Set<string>(['id', 'time', 'trace_id', 'actor_chain', 'decision', 'data', ...STRING_FIELDS]);

/**
 * Completes and checks an event; returns it with its canonical body. Misuse (a wrong shape) throws TypeError at the
 * call site, not later in a flush where it would block the chain.
 *
 * @example
 * const { event, body } = normalizeAuditEvent({ type: 'admin.change', reason: 'agent.created' }, Date.now);
 */
export function normalizeAuditEvent(input: AuditEventInput, now: () => number): { event: AuditEvent; body: string } {
  if (typeof input !== 'object' || input === null) throw new TypeError('audit event must be an object');
  for (const k of Object.keys(input)) {
    if (!KNOWN.has(k)) throw new TypeError(`audit event: unknown field ${k}`);
  }
  for (const k of STRING_FIELDS) {
    const v = input[k];
    if (v !== undefined && typeof v !== 'string') throw new TypeError(`audit event: ${k} must be a string`);
  }
  if (input.type === '') throw new TypeError('audit event: type is required');
  const time = input.time ?? now();
  if (!Number.isSafeInteger(time) || time < 0) throw new TypeError('audit event: time must be epoch milliseconds');
  const id = input.id ?? uuidv7(time);
  if (!UUID.test(id)) throw new TypeError('audit event: id must be a lower-case UUID (v4 or v7)');
  // Events outside a request (admin changes from the CLI, timers) start a trace of their own, so every event has one.
  const traceId = input.trace_id ?? timeOrderedTraceId(time);
  if (!TRACE_ID.test(traceId)) throw new TypeError('audit event: trace_id must be a W3C trace-id (32 lower-case hex, not all zero)');
  if (input.span_id !== undefined && !SPAN_ID.test(input.span_id))
    throw new TypeError('audit event: span_id must be a W3C parent-id (16 lower-case hex)');
  if (input.decision !== undefined && input.decision !== 'allow' && input.decision !== 'deny')
    throw new TypeError('audit event: decision is allow or deny');
  if (input.actor_chain !== undefined && (!Array.isArray(input.actor_chain) || input.actor_chain.some((a) => typeof a !== 'string'))) {
    throw new TypeError('audit event: actor_chain must be an array of strings');
  }
  if (input.data !== undefined && (typeof input.data !== 'object' || input.data === null || Array.isArray(input.data))) {
    throw new TypeError('audit event: data must be a JSON object');
  }
  // A literal with every field (absent ones undefined, which canonical JSON leaves out) rather than a spread: one
  // object shape for all events, several microseconds cheaper per call on the gateway path. The fields are in RFC 8785
  // order, so canonical JSON finds them sorted.
  const event: AuditEvent = {
    action: input.action,
    actor_chain: input.actor_chain,
    agent_id: input.agent_id,
    data: input.data,
    decision: input.decision,
    detail: input.detail,
    id,
    reason: input.reason,
    resource: input.resource,
    span_id: input.span_id,
    task_id: input.task_id,
    time,
    trace_id: traceId,
    traceparent: input.traceparent,
    type: input.type,
    user_id: input.user_id,
  };
  // Serialised now: the caller may reuse its objects after `record` returns, and a value JSON cannot hold fails here.
  const body = canonicalJson(event);
  // `event` shares nested objects with the caller; only its top-level strings are read after this point (for the
  // indexed columns), and the body is already fixed.
  return { event, body };
}
