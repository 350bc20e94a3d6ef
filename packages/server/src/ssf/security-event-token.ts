/**
 * Security Event Tokens (RFC 8417) as the SSF 1.0 profile shapes them: `typ: secevent+jwt`, `iss`, `iat`, a unique
 * `jti`, `aud`, `txn`, a top-level `sub_id`, exactly one event under `events`, and never `sub` or `exp`.
 */
import { randomBytes } from 'node:crypto';
import type { RevocationRecord } from '../revocation/index.js';
import {
  EVENT_SESSION_REVOKED,
  EVENT_STREAM_UPDATED,
  EVENT_TOOL_RESTORED,
  EVENT_TOOL_REVOKED,
  EVENT_VERIFICATION,
  type StreamStatus,
} from './ssf-vocabulary.js';
import { subjectIdFor, type SubjectIdentifier } from './subject-identifier.js';

export interface SecurityEvent {
  type: string;
  subject: SubjectIdentifier;
  payload: Record<string, unknown>;
  /** Links every SET of one cause (RFC 8417 §2.2). */
  txn?: string;
}

export interface SetClaims {
  iss: string;
  iat: number;
  jti: string;
  aud: string;
  txn?: string;
  sub_id: SubjectIdentifier;
  events: Record<string, Record<string, unknown>>;
}

/** The claims of one SET for one stream. */
export function setClaims(event: SecurityEvent, o: { issuer: string; audience: string; nowMs: number }): SetClaims {
  return {
    iss: o.issuer,
    iat: Math.floor(o.nowMs / 1000),
    jti: randomBytes(16).toString('base64url'),
    aud: o.audience,
    ...(event.txn !== undefined ? { txn: event.txn } : {}),
    sub_id: event.subject,
    events: { [event.type]: event.payload },
  };
}

/**
 * The event of a revocation: a killed (or restored) tool has Writ's tool events, everything else is CAEP
 * `session-revoked`.
 */
export function revocationEvent(record: RevocationRecord, issuer: string): SecurityEvent {
  const t = record.target;
  if (t.type !== 'tool') return sessionRevokedEvent(record, issuer);
  return {
    type: record.lifted === true ? EVENT_TOOL_RESTORED : EVENT_TOOL_REVOKED,
    subject: subjectIdFor(t, issuer),
    txn: `writ-revocation-${record.seq}`,
    payload: {
      event_timestamp: Math.floor(record.createdAt / 1000),
      initiating_entity: initiatingEntity(record.actor),
      reason_admin: { en: record.reason.trim() === '' ? 'revoked' : record.reason },
      resource: t.resourceId,
      tool: t.tool,
    },
  };
}

/**
 * CAEP `session-revoked` for a revocation: `event_timestamp` is the revocation time (tokens issued before it are
 * dead), `reason_admin` is never empty (CAEP interoperability profile), `txn` is shared by all SETs of one revocation.
 */
export function sessionRevokedEvent(record: RevocationRecord, issuer: string): SecurityEvent {
  return {
    type: EVENT_SESSION_REVOKED,
    subject: subjectIdFor(record.target, issuer),
    txn: `writ-revocation-${record.seq}`,
    payload: {
      event_timestamp: Math.floor(record.createdAt / 1000),
      initiating_entity: initiatingEntity(record.actor),
      reason_admin: { en: record.reason.trim() === '' ? 'revoked' : record.reason },
    },
  };
}

/** CAEP §2 `initiating_entity`: operators are `admin`, grant policy is `policy`, everything automatic is `system`. */
export function initiatingEntity(actor: string): 'admin' | 'policy' | 'system' {
  if (actor.startsWith('admin:')) return 'admin';
  if (actor.startsWith('policy:')) return 'policy';
  return 'system';
}

/** SSF §8.1.4.1: the subject is the stream itself; `state` is echoed when the receiver sent one. */
export function verificationEvent(streamId: string, state: string | undefined): SecurityEvent {
  return { type: EVENT_VERIFICATION, subject: { format: 'opaque', id: streamId }, payload: state !== undefined ? { state } : {} };
}

/** SSF §8.1.5: sent whenever a stream's status changes. */
export function streamUpdatedEvent(streamId: string, status: StreamStatus, reason: string | undefined): SecurityEvent {
  return {
    type: EVENT_STREAM_UPDATED,
    subject: { format: 'opaque', id: streamId },
    payload: { status, ...(reason !== undefined ? { reason } : {}) },
  };
}
