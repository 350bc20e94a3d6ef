/**
 * The SQLite side of the audit writer, used by the writer thread and, for an in-memory database that no second
 * connection can open, on the main thread:
 *
 * - `journal`: write-ahead records into `audit_journal` (no secondary index: about a page per commit);
 * - `append`: one immediate transaction per batch (the write lock is taken before the head is read), the chain head
 *   read inside it, one cached prepared insert per event, and the batch's journal entries deleted in the same
 *   transaction;
 * - `recover`: what a crash left in the journal, chained (in journal order) unless already chained, then cleared.
 */
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { chainHash, GENESIS_HASH } from './audit-chain.js';
import type { AuditRow } from './audit-row.js';

export interface SqliteAuditStore {
  /** Appends `batch` after the stored head; with `uncertain`, rows whose id is already stored are skipped. */
  append(batch: readonly AuditRow[], uncertain: boolean, journaled: readonly string[]): void;
  journal(entries: ReadonlyArray<{ n: number; row: AuditRow }>): void;
  /** Returns how many journal entries were chained. */
  recover(): number;
}

/**
 * `journal.owner`: what this writer's journal entries are marked with (its worker slot; empty for one process).
 * `journal.recover`: whose entries `recover` chains — every owner's when no other writer can be running (a single
 * process, or the first worker of a start), only its own when siblings are live and chain theirs themselves.
 */
export interface JournalScope {
  owner: string;
  recover: 'all' | 'own';
}

export const SINGLE_PROCESS_JOURNAL: JournalScope = { owner: '', recover: 'all' };

export function sqliteAuditStore(sqlite: SqliteDatabase, scope: JournalScope = SINGLE_PROCESS_JOURNAL): SqliteAuditStore {
  const head = sqlite.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  const exists = sqlite.prepare<[string], { id: string }>('SELECT id FROM audit_events WHERE id = ?');
  const insert = sqlite.prepare(
    'INSERT INTO audit_events (seq, id, time, type, trace_id, task_id, agent_id, user_id, decision, reason, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const journalInsert = sqlite.prepare('INSERT OR IGNORE INTO audit_journal (id, n, row, owner) VALUES (?, ?, ?, ?)');
  const journalDelete = sqlite.prepare('DELETE FROM audit_journal WHERE id = ?');
  const own = scope.recover === 'own';
  const journalLeft = sqlite.prepare<string[], { id: string; n: number; row: string }>(
    own ? 'SELECT id, n, row FROM audit_journal WHERE owner = ?' : 'SELECT id, n, row FROM audit_journal',
  );
  const journalClear = sqlite.prepare<string[]>(own ? 'DELETE FROM audit_journal WHERE owner = ?' : 'DELETE FROM audit_journal');
  const ownerArgs = own ? [scope.owner] : [];

  const chain = (batch: readonly AuditRow[], uncertain: boolean): void => {
    const h = head.get();
    let seq = h?.seq ?? 0;
    let prev = h?.hash ?? GENESIS_HASH;
    for (const r of batch) {
      if (uncertain && exists.get(r.id) !== undefined) continue;
      seq += 1;
      const hash = chainHash(prev, r.body);
      insert.run(seq, r.id, r.time, r.type, r.trace_id, r.task_id, r.agent_id, r.user_id, r.decision, r.reason, r.body, prev, hash);
      prev = hash;
    }
  };
  const append = sqlite.transaction((batch: readonly AuditRow[], uncertain: boolean, journaled: readonly string[]) => {
    chain(batch, uncertain);
    for (const id of journaled) journalDelete.run(id);
  });
  const journal = sqlite.transaction((entries: ReadonlyArray<{ n: number; row: AuditRow }>) => {
    // OR IGNORE: an entry already journaled by an attempt whose answer was lost (a dead thread) is not an error.
    for (const e of entries) journalInsert.run(e.row.id, e.n, JSON.stringify(e.row), scope.owner);
  });
  const recover = sqlite.transaction((): number => {
    const left = journalLeft
      .all(...ownerArgs)
      .sort((a, b) => a.n - b.n)
      .map((e) => JSON.parse(e.row) as AuditRow);
    chain(left, true);
    journalClear.run(...ownerArgs);
    return left.length;
  });
  return {
    append: (batch, uncertain, journaled) => append.immediate(batch, uncertain, journaled),
    journal: (entries) => journal.immediate(entries),
    recover: () => recover.immediate(),
  };
}
