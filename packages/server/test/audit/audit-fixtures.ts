/** Shared helpers for the audit tests: a writer with a timer that never fires on its own, and event factories. */
import { randomBytes } from 'node:crypto';
import type { Store } from '../../src/storage/index.js';
import {
  createAuditWriter,
  storeAppender,
  type AuditEventInput,
  type AuditWriter,
  type AuditWriterOptions,
} from '../../src/audit/index.js';

/**
 * A writer on the store's own appender (SQLite: the writer thread; PostgreSQL: a connection of its own) whose timer is
 * far away, so every write of a `record` in a test happens at an explicit flush().
 */
export function manualWriter(store: Store, over: Partial<AuditWriterOptions> = {}, busyTimeoutMs?: number): AuditWriter {
  return createAuditWriter({
    appender: storeAppender(store, busyTimeoutMs !== undefined ? { busyTimeoutMs } : {}),
    flushIntervalMs: 3_600_000,
    maxBuffered: 10_000,
    ...over,
  });
}

export function traceId(): string {
  return randomBytes(16).toString('hex');
}

export function callEvent(i: number, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: i % 3 === 0 ? 'call.denied' : 'call.allowed',
    time: 1_763_000_000_000 + i * 1000,
    trace_id: traceId(),
    task_id: `task-${i % 4}`,
    agent_id: `agent-${i % 2}`,
    user_id: 'alice',
    actor_chain: ['alice', `agent-${i % 2}`],
    resource: 'github',
    action: `GET /repos/${i}`,
    decision: i % 3 === 0 ? 'deny' : 'allow',
    reason: i % 3 === 0 ? 'ERR_POLICY_DENIED' : 'allowed',
    data: { i, status: 200 },
    ...over,
  };
}

/** Writes n events through a real writer; returns the store for tampering. */
export async function writeEvents(store: Store, n: number): Promise<void> {
  const w = manualWriter(store);
  for (let i = 1; i <= n; i++) w.record(callEvent(i));
  await w.close();
}
