/**
 * Writ's audit events as OCSF 1.3.0 events, for SIEMs (`writ audit export --format ocsf`, the streaming sinks).
 *
 * | Writ event | OCSF class |
 * |---|---|
 * | `call.allowed`, `call.denied`, `call.outcome` | API Activity (6003): the operation, the resource, who |
 * | `token.issued`, `token.delegated`, `token.denied` | Authorize Session (3003): privileges = the authorization details granted |
 * | `authorization.signed_in`, `authorization.denied` | Authentication (3002), OpenID |
 * | `console.signed_in`, `console.denied`, `console.signed_out` | Authentication (3002): logon, or logoff |
 * | everything else (admin changes, revocations, task ends, consents, clients, refusals) | Entity Management (3004) |
 *
 * Nothing is dropped: what OCSF has no attribute for is under `unmapped.writ`, and `metadata.uid` is the Writ event's
 * id, `metadata.sequence` its place in the chain, `metadata.correlation_uid` its W3C trace id.
 */
import { isIP } from 'node:net';
import type { AuditEvent } from './audit-event.js';

export const OCSF_VERSION = '1.3.0';

const CATEGORY = { iam: 3, application: 6 } as const;
const CLASS = { authentication: 3002, authorizeSession: 3003, entityManagement: 3004, apiActivity: 6003 } as const;
const SEVERITY = { informational: 1, medium: 3 } as const;
const STATUS = { success: 1, failure: 2 } as const;
/** OCSF `auth_protocol_id`. */
const OPENID = 4;

export type OcsfEvent = Record<string, unknown> & {
  class_uid: number;
  category_uid: number;
  activity_id: number;
  type_uid: number;
  time: number;
  severity_id: number;
  metadata: Record<string, unknown>;
};

/** A stored event: the canonical body (parsed) and its place in the chain. */
export interface StoredAuditEvent {
  seq: number;
  event: AuditEvent;
}

/**
 * @example
 * const ocsf = toOcsf({ seq: row.seq, event: JSON.parse(row.body) }, { productVersion: '0.1.0' });
 */
export function toOcsf(stored: StoredAuditEvent, o: { productVersion: string }): OcsfEvent {
  const e = stored.event;
  const data = e.data ?? {};
  const failed = e.decision === 'deny' || (e.type === 'call.outcome' && e.reason !== 'completed');
  const common = {
    time: e.time,
    severity_id: e.decision === 'deny' ? SEVERITY.medium : SEVERITY.informational,
    status_id: failed ? STATUS.failure : STATUS.success,
    ...(e.reason !== undefined ? { status_detail: e.reason } : {}),
    message: [e.type, e.action, e.reason].filter((x) => x !== undefined && x !== '').join(' '),
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'Writ', vendor_name: 'Writ', version: o.productVersion },
      uid: e.id,
      correlation_uid: e.trace_id,
      sequence: stored.seq,
      log_name: 'writ-audit',
      event_code: e.type,
    },
    unmapped: {
      writ: {
        type: e.type,
        ...(e.task_id !== undefined ? { task_id: e.task_id } : {}),
        ...(e.agent_id !== undefined ? { agent_id: e.agent_id } : {}),
        ...(e.actor_chain !== undefined ? { actor_chain: e.actor_chain } : {}),
        ...(e.decision !== undefined ? { decision: e.decision } : {}),
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
        ...(e.span_id !== undefined ? { span_id: e.span_id } : {}),
        data,
      },
    },
  };
  const source = typeof data['source'] === 'string' ? data['source'] : undefined;
  const src = source !== undefined ? { src_endpoint: endpoint(source) } : {};
  const user = e.user_id !== undefined ? { uid: e.user_id } : undefined;
  // The agent acting (the last of the delegation chain); the user it acts for.
  const actor = {
    ...(user !== undefined ? { user } : {}),
    ...(e.agent_id !== undefined ? { app_name: e.agent_id, app_uid: e.agent_id } : {}),
    ...(e.task_id !== undefined ? { session: { uid: e.task_id } } : {}),
  };

  if (e.type.startsWith('call.')) {
    const activity = apiActivity(e.action);
    return classified(CLASS.apiActivity, CATEGORY.application, activity, {
      ...common,
      api: {
        operation: e.action ?? e.type,
        ...(e.resource !== undefined ? { service: { name: e.resource, uid: e.resource } } : {}),
        // The write-ahead record and its outcome share one request: the outcome names the record it completes.
        request: { uid: typeof data['of'] === 'string' ? data['of'] : e.id },
        ...(typeof data['status'] === 'number' ? { response: { code: data['status'] } } : {}),
      },
      // A refusal before anyone was authenticated has no user or agent: the caller is an unauthenticated client.
      actor: Object.keys(actor).length > 0 ? actor : { app_name: 'unauthenticated client' },
      src_endpoint:
        source !== undefined
          ? endpoint(source)
          : { name: e.agent_id ?? 'unknown', ...(e.agent_id !== undefined ? { uid: e.agent_id } : {}) },
      ...(e.resource !== undefined ? { resources: [{ uid: e.resource, type: 'writ.resource' }] } : {}),
    });
  }
  if (e.type === 'token.issued' || e.type === 'token.delegated' || e.type === 'token.denied') {
    const granted = Array.isArray(data['granted']) ? (data['granted'] as unknown[]) : [];
    return classified(CLASS.authorizeSession, CATEGORY.iam, 1, {
      ...common,
      user: user ?? { name: 'unknown' },
      privileges: granted.map((d) => JSON.stringify(d)),
      ...(e.task_id !== undefined
        ? { session: { uid: e.task_id, ...(typeof data['exp'] === 'number' ? { expiration_time: data['exp'] * 1000 } : {}) } }
        : {}),
      ...(Object.keys(actor).length > 0 ? { actor } : {}),
      ...src,
    });
  }
  if (e.type === 'authorization.signed_in' || e.type === 'authorization.denied') {
    return classified(CLASS.authentication, CATEGORY.iam, 1, {
      ...common,
      user: user ?? { name: 'unknown' },
      auth_protocol_id: OPENID,
      auth_protocol: 'OpenID',
      service: { name: 'Writ authorization server' },
      ...src,
    });
  }
  if (e.type === 'console.signed_in' || e.type === 'console.denied' || e.type === 'console.signed_out') {
    const openId = e.reason === 'identity_provider' || e.reason === 'no_console_role';
    return classified(CLASS.authentication, CATEGORY.iam, e.type === 'console.signed_out' ? 2 : 1, {
      ...common,
      user: user ?? { name: e.actor_chain?.[0] ?? 'unknown' },
      ...(openId ? { auth_protocol_id: OPENID, auth_protocol: 'OpenID' } : {}),
      service: { name: 'Writ console' },
      ...src,
    });
  }
  const target = typeof data['target_id'] === 'string' ? data['target_id'] : (e.task_id ?? e.agent_id ?? e.resource);
  return classified(CLASS.entityManagement, CATEGORY.iam, entityActivity(e), {
    ...common,
    entity: { name: e.reason ?? e.type, type: e.type, ...(target !== undefined ? { uid: target } : {}) },
    ...(Object.keys(actor).length > 0 || e.actor_chain !== undefined
      ? { actor: Object.keys(actor).length > 0 ? actor : { app_name: e.actor_chain?.[0] ?? 'writ' } }
      : {}),
    ...src,
  });
}

function classified(classUid: number, categoryUid: number, activityId: number, rest: Record<string, unknown>): OcsfEvent {
  return {
    class_uid: classUid,
    category_uid: categoryUid,
    activity_id: activityId,
    type_uid: classUid * 100 + activityId,
    ...rest,
  } as OcsfEvent;
}

/** API Activity: Create 1, Read 2, Update 3, Delete 4 from the HTTP method; an MCP message is Other (99). */
function apiActivity(action: string | undefined): number {
  const method = action?.split(' ', 1)[0];
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 2;
    case 'POST':
      return 1;
    case 'PUT':
    case 'PATCH':
      return 3;
    case 'DELETE':
      return 4;
    default:
      return 99;
  }
}

/**
 * Entity Management: Create 1, Update 3, Delete 4, Enable 8 (a killed tool lifted), Disable 9 (a revocation),
 * Deactivate 11 (a task ended); else 99.
 */
function entityActivity(e: AuditEvent): number {
  const what = `${e.type} ${e.reason ?? ''}`;
  if (e.type === 'revocation.lifted') return 8;
  if (e.type === 'revocation.created' || e.type === 'task.revoked' || e.type === 'consent.revoked') return 9;
  if (e.type === 'task.completed') return 11;
  if (e.type === 'client.registered' || e.type === 'consent.granted' || /\.created\b/.test(what)) return 1;
  if (/\.(updated|rotated|activated|suspended)\b/.test(what)) return 3;
  if (/\.deleted\b/.test(what)) return 4;
  return 99;
}

function endpoint(source: string): Record<string, string> {
  return isIP(source) !== 0 ? { ip: source } : { name: source };
}
