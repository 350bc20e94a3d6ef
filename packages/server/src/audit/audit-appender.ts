/**
 * Where the audit writer's batches go. An appender writes one batch as one transaction, chained to the head it reads
 * inside that transaction, and resolves only once the transaction has committed; the writer hands it one batch at a
 * time, in order.
 */
import type { AuditRow } from './audit-row.js';

export interface AuditAppender {
  /** `uncertain`: the previous attempt may have committed (a lost connection, a dead thread): skip stored ids. */
  append(batch: readonly AuditRow[], uncertain: boolean): Promise<void>;
  close(): Promise<void>;
  /** Where the store work runs, for logs and readiness: its own thread, its own connection, or this thread. */
  readonly runs: 'writer-thread' | 'dedicated-connection' | 'main-thread';
}
