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
import { uuidv7 } from '../ids/index.js';
import type { TraceContext } from '../observability/index.js';

export interface CallAuditEvent {
  type: 'call.allowed' | 'call.denied' | 'call.outcome';
  id?: string;
  trace_id: string;
  span_id: string;
  time: number;
  task_id?: string;
  agent_id?: string;
  user_id?: string;
  actor_chain?: string[];
  resource?: string;
  action: string;
  decision?: 'allow' | 'deny';
  reason: string;
  detail?: string;
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
  intentKeys?: ReadonlySet<string>;
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
  const who = (state: CallState, c: TaskTokenClaims | undefined): Partial<CallAuditEvent> => ({
    ...(state.resourceId !== undefined ? { resource: state.resourceId } : {}),
    ...(c !== undefined ? { task_id: c.task_id, agent_id: c.client_id, user_id: c.sub, actor_chain: actorChain(c) } : {}),
  });
  const credential = (c: TaskTokenClaims | undefined, state: CallState): Record<string, unknown> => ({
    source: state.source,
    ...(c !== undefined ? { jti: c.jti } : {}),
    // A bearer task token (no DPoP binding): every such call is marked.
    ...(c !== undefined && c.cnf === undefined ? { bearer: true } : {}),
  });
  return {
    allow(state, allowed) {
      const c = state.claims;
      const now = Date.now();
      const data = {
        ...(allowed.grants.length > 0 ? { grants: allowed.grants } : {}),
        ...credential(c, state),
        ...allowed.data,
      };
      const id = uuidv7(now);
      const event: CallAuditEvent = {
        type: 'call.allowed',
        id,
        trace_id: state.trace.traceId,
        span_id: state.trace.spanId,
        time: state.started,
        action: state.action ?? `${state.method} ${state.path ?? '(unparsed)'}`,
        decision: 'allow',
        reason: 'allowed',
        data,
        ...who(state, c),
      };
      let committed: Promise<string>;
      try {
        committed = sink.commit(event);
      } catch (err) {
        return Promise.reject(new WritError('ERR_NOT_READY', `write-ahead audit record refused: ${(err as Error).message}`));
      }
      state.intent = id;
      state.intentKeys = new Set(Object.keys(data));
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
      const c = state.claims;
      const action = state.action ?? `${state.method} ${state.path ?? '(unparsed)'}`;
      const detail = outcome.detail !== undefined && outcome.detail !== '' ? { detail: outcome.detail.slice(0, 2000) } : {};
      const measured = {
        status: outcome.status,
        duration_ms: Date.now() - state.started,
        ...(outcome.bytes !== undefined ? { bytes_in: outcome.bytes.in, bytes_out: outcome.bytes.out } : {}),
      };
      if (state.intent !== undefined) {
        const extra: Record<string, unknown> = {};
        if (outcome.data !== undefined)
          for (const [k, v] of Object.entries(outcome.data)) if (state.intentKeys?.has(k) !== true) extra[k] = v;
        sink.record({
          type: 'call.outcome',
          trace_id: state.trace.traceId,
          span_id: state.trace.spanId,
          time: Date.now(),
          action,
          // Completed upstream, or why not (ERR_UPSTREAM_UNAVAILABLE, upstream_aborted, ERR_NOT_READY …).
          reason: outcome.reason === 'allowed' ? 'completed' : outcome.reason,
          data: { of: state.intent, ...measured, ...extra },
          ...detail,
          ...who(state, c),
        });
        return;
      }
      sink.record({
        type: outcome.decision === 'allow' ? 'call.allowed' : 'call.denied',
        trace_id: state.trace.traceId,
        span_id: state.trace.spanId,
        time: state.started,
        action,
        decision: outcome.decision,
        reason: outcome.reason,
        data: {
          ...measured,
          ...(outcome.grants.length > 0 ? { grants: outcome.grants } : {}),
          ...credential(c, state),
          ...outcome.data,
        },
        ...detail,
        ...who(state, c),
      });
    },
  };
}
