/**
 * The audit records of a gateway call: who (user, agent chain), what (resource, method, path), under which task and
 * trace, the decision, its stable reason code, and what came of it.
 *
 * A call that is forwarded leaves two records. `call.allowed` is the write-ahead: it is committed before anything
 * reaches the upstream (`allow` resolves only then), so a crash at any later moment cannot leave a served call
 * unaccounted for. `call.outcome` follows, linked by `data.of`, with the status, the duration and the bytes, or the
 * reason the call did not complete — written like every other record, within the flush interval. A call refused
 * before forwarding leaves one `call.denied` record; one answered by Writ itself (MCP `server/discover`) one
 * `call.allowed` with its status.
 */
import { WritError, actorsOf, type TaskTokenClaims } from '@writ/protocol';
import { randomBytes } from 'node:crypto';
import { timeOrderedTraceId, uuidv7 } from '../ids/index.js';
import type { TraceContext } from '../observability/index.js';

export interface CallAuditEvent {
  type: 'call.allowed' | 'call.denied' | 'call.outcome' | 'secret.scrubbed';
  id?: string;
  trace_id: string;
  span_id: string;
  time: number;
  task_id?: string | undefined;
  agent_id?: string | undefined;
  user_id?: string | undefined;
  actor_chain?: string[] | undefined;
  resource?: string | undefined;
  action: string;
  decision?: 'allow' | 'deny' | undefined;
  reason: string;
  detail?: string | undefined;
  data: Record<string, unknown>;
}

/** What a call has established so far: filled in step by step, audited whatever step it ends at. */
export interface CallState {
  trace: TraceContext;
  started: number;
  resourceId: string | undefined;
  method: string;
  path: string | undefined;
  claims: TaskTokenClaims | undefined;
  /** The caller's address, recorded for calls refused before anyone was authenticated. */
  source: string;
  /** What the call did, when it is not an HTTP method and path (MCP: `tools/call read_file`). */
  action?: string;
  /** The id of the call's write-ahead record, once it is queued: what its outcome record points to. */
  intent?: string;
  /** The data keys the write-ahead record already holds (not repeated in the outcome). */
  intentKeys?: ReadonlySet<string> | undefined;
  /** How the call ended, once its last record is written (for its span). */
  outcome?: { decision: 'allow' | 'deny'; reason: string; status: number };
}

export interface CallOutcome {
  decision: 'allow' | 'deny';
  reason: string;
  status: number;
  grants: string[];
  detail?: string;
  /** What else the enforcement point knows of the call (MCP: the JSON-RPC method, tool, argument digest). */
  data?: Record<string, unknown>;
  /** Bytes of the request body sent upstream and of the answer written to the agent, when known. */
  bytes?: { in: number; out: number };
}

export interface GatewayAudit {
  /**
   * The write-ahead record of a call about to be forwarded; resolves once it is committed. Rejects with
   * ERR_NOT_READY when it cannot be: the call must then not be forwarded.
   */
  allow(state: CallState, allowed: { grants: string[]; data?: Record<string, unknown> }): Promise<void>;
  /** A refusal; or, after `allow`, the call's outcome; or a call Writ answered itself. */
  call(state: CallState, outcome: CallOutcome): void;
  /**
   * The upstream's answer carried an injected credential, which was replaced before the agent saw it: the record
   * names the secrets and where they were found, never a value.
   */
  scrubbed(state: CallState, secrets: string[], where: 'headers' | 'body' | 'message'): void;
  /**
   * The same for an MCP upstream's message, which need not belong to one agent call (a notification, the upstream's
   * own request): a record of its own, with the session's principal.
   */
  scrubbedMessage(e: {
    resourceId: string;
    principal: { userId: string; agentId: string; taskId: string } | undefined;
    secrets: string[];
    method: string | undefined;
  }): void;
}

export interface GatewayAuditSink {
  record(e: CallAuditEvent): void;
  /** Resolves once committed; throws (not rejects) when the event was not even queued. */
  commit(e: CallAuditEvent): Promise<string>;
}

/** The delegation chain, oldest first: the user, then each agent from the root task's down to the current actor. */
export function actorChain(claims: TaskTokenClaims): string[] {
  return [claims.sub, ...actorsOf(claims.act)];
}

export function createGatewayAudit(sink: GatewayAuditSink, counted?: (decision: 'allow' | 'deny', reason: string) => void): GatewayAudit {
  // Objects are built with their members in RFC 8785 order where it is known, so canonical JSON need not sort them
  // (audit/canonical-json.ts); the per-call path builds few objects.
  const event = (
    state: CallState,
    type: CallAuditEvent['type'],
    time: number,
    decision: CallAuditEvent['decision'],
    reason: string,
    data: Record<string, unknown>,
    detail: string | undefined,
  ): CallAuditEvent => {
    const c = state.claims;
    return {
      action: state.action ?? `${state.method} ${state.path ?? '(unparsed)'}`,
      actor_chain: c !== undefined ? actorChain(c) : undefined,
      agent_id: c?.client_id,
      data,
      decision,
      detail: detail !== undefined && detail !== '' ? detail.slice(0, 2000) : undefined,
      reason,
      resource: state.resourceId,
      span_id: state.trace.spanId,
      task_id: c?.task_id,
      time,
      trace_id: state.trace.traceId,
      type,
      user_id: c?.sub,
    };
  };
  /** The grants, then the credential's marks; the caller's data (MCP) last, in any order. */
  const credentialData = (state: CallState, grants: string[], more: Record<string, unknown> | undefined): Record<string, unknown> => {
    const c = state.claims;
    const data: Record<string, unknown> = {};
    // A bearer task token (no DPoP binding): every such call is marked.
    if (c !== undefined && c.cnf === undefined) data['bearer'] = true;
    if (grants.length > 0) data['grants'] = grants;
    if (c !== undefined) data['jti'] = c.jti;
    data['source'] = state.source;
    if (more !== undefined) Object.assign(data, more);
    return data;
  };
  return {
    allow(state, allowed) {
      const data = credentialData(state, allowed.grants, allowed.data);
      const e = event(state, 'call.allowed', state.started, 'allow', 'allowed', data, undefined);
      e.id = uuidv7(Date.now());
      let committed: Promise<string>;
      try {
        committed = sink.commit(e);
      } catch (err) {
        return Promise.reject(new WritError('ERR_NOT_READY', `write-ahead audit record refused: ${(err as Error).message}`));
      }
      state.intent = e.id;
      state.intentKeys = allowed.data !== undefined ? new Set(Object.keys(allowed.data)) : undefined;
      return committed.then(
        () => undefined,
        (err: unknown) => {
          throw new WritError('ERR_NOT_READY', `write-ahead audit record not committed: ${(err as Error).message}`);
        },
      );
    },
    call(state, outcome) {
      counted?.(outcome.decision, outcome.reason);
      state.outcome = { decision: outcome.decision, reason: outcome.reason, status: outcome.status };
      const now = Date.now();
      if (state.intent !== undefined) {
        const data: Record<string, unknown> = {};
        if (outcome.bytes !== undefined) {
          data['bytes_in'] = outcome.bytes.in;
          data['bytes_out'] = outcome.bytes.out;
        }
        data['duration_ms'] = now - state.started;
        data['of'] = state.intent;
        data['status'] = outcome.status;
        // What the outcome adds to the write-ahead record's data (MCP: the result's digest), not what it repeats.
        if (outcome.data !== undefined)
          for (const k in outcome.data) if (state.intentKeys?.has(k) !== true && !(k in data)) data[k] = outcome.data[k];
        // Completed upstream, or why not (ERR_UPSTREAM_UNAVAILABLE, upstream_aborted, ERR_NOT_READY …).
        const reason = outcome.reason === 'allowed' ? 'completed' : outcome.reason;
        sink.record(event(state, 'call.outcome', now, undefined, reason, data, outcome.detail));
        return;
      }
      const data = credentialData(state, outcome.grants, outcome.data);
      if (outcome.bytes !== undefined) {
        data['bytes_in'] = outcome.bytes.in;
        data['bytes_out'] = outcome.bytes.out;
      }
      data['duration_ms'] = now - state.started;
      data['status'] = outcome.status;
      const type = outcome.decision === 'allow' ? 'call.allowed' : 'call.denied';
      sink.record(event(state, type, state.started, outcome.decision, outcome.reason, data, outcome.detail));
    },
    scrubbed(state, secrets, where) {
      const data: Record<string, unknown> = {};
      if (state.intent !== undefined) data['of'] = state.intent;
      data['secrets'] = secrets;
      data['where'] = where;
      sink.record(event(state, 'secret.scrubbed', Date.now(), undefined, 'secret_in_response', data, undefined));
    },
    scrubbedMessage({ resourceId, principal, secrets, method }) {
      sink.record({
        action: method ?? 'mcp answer',
        agent_id: principal?.agentId,
        data: { secrets, where: 'message' },
        reason: 'secret_in_response',
        resource: resourceId,
        span_id: randomBytes(8).toString('hex'),
        task_id: principal?.taskId,
        time: Date.now(),
        trace_id: timeOrderedTraceId(),
        type: 'secret.scrubbed',
        user_id: principal?.userId,
      });
    },
  };
}
