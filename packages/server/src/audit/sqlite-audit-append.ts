/**
 * The SQLite append: one immediate transaction per batch (the write lock is taken before the head is read), the
 * chain head read inside it, one cached prepared single-row insert per event. Used by the writer thread and, for an
 * in-memory database that no second connection can open, on the main thread.
 */
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { chainHash, GENESIS_HASH } from './audit-chain.js';
import type { AuditRow } from './audit-row.js';

/** Appends `batch` after the stored head; with `uncertain`, rows whose id is already stored are skipped. */
export type SqliteAppend = (batch: readonly AuditRow[], uncertain: boolean) => void;

export function sqliteAppend(sqlite: SqliteDatabase): SqliteAppend {
  const head = sqlite.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  const exists = sqlite.prepare<[string], { id: string }>('SELECT id FROM audit_events WHERE id = ?');
  const insert = sqlite.prepare(
    'INSERT INTO audit_events (seq, id, time, type, trace_id, task_id, agent_id, user_id, decision, reason, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const write = sqlite.transaction((batch: readonly AuditRow[], uncertain: boolean) => {
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
  });
  return (batch, uncertain) => write.immediate(batch, uncertain);
}
