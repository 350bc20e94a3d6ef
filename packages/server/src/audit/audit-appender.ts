/**
 * Where the audit writer's batches go. An appender writes one batch as one transaction, chained to the head it reads
 * inside that transaction, and resolves only once the transaction has committed; the writer hands it one batch at a
 * time, in order.
 *
 * An appender may also keep a write-ahead journal (SQLite): `journal` commits records durably without chaining them,
 * cheaply, so a call waits for that instead of a chain transaction; the next `append` of those records removes them
 * from the journal in its own transaction, and `recover` chains what a crash left there.
 */
import type { AuditRow } from './audit-row.js';

export interface AuditAppender {
  /**
   * `uncertain`: the previous attempt may have committed (a lost connection, a dead thread): skip stored ids.
   * `journaled`: ids of the batch that are in the journal, to be removed from it in the same transaction.
   */
  append(batch: readonly AuditRow[], uncertain: boolean, journaled?: readonly string[]): Promise<void>;
  journal?(entries: ReadonlyArray<{ n: number; row: AuditRow }>): Promise<void>;
  /** Chains what the journal holds (left by a crash); how many. Run once, before anything else is written. */
  recover?(): Promise<number>;
  close(): Promise<void>;
  /** Where the store work runs, for logs and readiness: its own thread, its own connection, or this thread. */
  readonly runs: 'writer-thread' | 'dedicated-connection' | 'main-thread';
}
