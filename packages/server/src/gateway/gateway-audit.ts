/**
 * The one audit event each gateway call leaves: who (user, agent chain), what (resource, method, path), under
 * which task and trace, the decision, its stable reason code, and the upstream status.
 */
import { actorsOf, type TaskTokenClaims } from '@writ/protocol';
import type { TraceContext } from '../observability/index.js';

export interface CallAuditEvent {
  type: 'call.allowed' | 'call.denied';
  trace_id: string;
  span_id: string;
  time: number;
  task_id?: string;
  agent_id?: string;
  user_id?: string;
  actor_chain?: string[];
  resource?: string;
  action: string;
  decision: 'allow' | 'deny';
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
}

export interface GatewayAudit {
  call(
    state: CallState,
    outcome: {
      decision: 'allow' | 'deny';
      reason: string;
      status: number;
      grants: string[];
      detail?: string;
      /** What else the enforcement point knows of the call (MCP: the JSON-RPC method, tool, argument digest). */
      data?: Record<string, unknown>;
    },
  ): void;
}

/** The delegation chain, oldest first: the user, then each agent from the root task's down to the current actor. */
export function actorChain(claims: TaskTokenClaims): string[] {
  return [claims.sub, ...actorsOf(claims.act)];
}

export function createGatewayAudit(
  sink: { record(e: CallAuditEvent): void },
  counted?: (decision: 'allow' | 'deny', reason: string) => void,
): GatewayAudit {
  return {
    call(state, outcome) {
      counted?.(outcome.decision, outcome.reason);
      const c = state.claims;
      const event: CallAuditEvent = {
        type: outcome.decision === 'allow' ? 'call.allowed' : 'call.denied',
        trace_id: state.trace.traceId,
        span_id: state.trace.spanId,
        time: state.started,
        action: state.action ?? `${state.method} ${state.path ?? '(unparsed)'}`,
        decision: outcome.decision,
        reason: outcome.reason,
        data: {
          status: outcome.status,
          duration_ms: Date.now() - state.started,
          ...(outcome.grants.length > 0 ? { grants: outcome.grants } : {}),
          ...(c !== undefined ? { jti: c.jti } : { source: state.source }),
          // A bearer task token (no DPoP binding): every such call is marked.
          ...(c !== undefined && c.cnf === undefined ? { bearer: true } : {}),
          ...outcome.data,
        },
        ...(state.resourceId !== undefined ? { resource: state.resourceId } : {}),
        ...(outcome.detail !== undefined && outcome.detail !== '' ? { detail: outcome.detail.slice(0, 2000) } : {}),
        ...(c !== undefined ? { task_id: c.task_id, agent_id: c.client_id, user_id: c.sub, actor_chain: actorChain(c) } : {}),
      };
      sink.record(event);
    },
  };
}
