/**
 * An event as the store keeps it, before its place in the chain is known: the canonical body plus the indexed columns
 * that repeat what it says. Flat strings only, so that handing a batch to the writer thread copies little.
 */
import type { AuditEventsTable } from '../storage/index.js';
import type { AuditEvent } from './audit-event.js';

export type AuditRow = Omit<AuditEventsTable, 'seq' | 'prev_hash' | 'hash'>;

/** Every column of a stored event, in the table's order. */
export const AUDIT_EVENT_COLUMNS = [
  'seq',
  'id',
  'time',
  'type',
  'trace_id',
  'task_id',
  'agent_id',
  'user_id',
  'decision',
  'reason',
  'body',
  'prev_hash',
  'hash',
] as const satisfies ReadonlyArray<keyof AuditEventsTable>;

export function auditRow(e: AuditEvent, body: string): AuditRow {
  return {
    id: e.id,
    time: e.time,
    type: indexable(e.type),
    trace_id: indexable(e.trace_id),
    task_id: indexable(e.task_id ?? null),
    agent_id: indexable(e.agent_id ?? null),
    user_id: indexable(e.user_id ?? null),
    decision: indexable(e.decision ?? null),
    reason: indexable(e.reason ?? null),
    body,
  };
}

/**
 * A value for one of the indexed columns, which repeat what the hashed body says. The body is JSON, where a NUL is
 * the escape `\u0000` and stores anywhere; a raw NUL in a column would be refused by PostgreSQL and fail the whole
 * batch, again on every retry — one crafted value would stop the audit, and with it every gateway. So the column
 * gets U+FFFD in its place; the body keeps the exact value. The verifier applies the same rule when it compares them.
 */
export function indexable<T extends string | null>(value: T): T {
  return (value !== null && value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value) as T;
}
