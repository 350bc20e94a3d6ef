/**
 * The audit writer thread for SQLite: a connection of its own to the database file, so that the journal, the chain
 * and their transactions never run on the event loop that serves calls. Requests are answered in the order they came.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { sqliteAuditStore } from './sqlite-audit-append.js';
import { GATE_HOLDER, WriteGate } from '../threads/index.js';
import type { AuditRow } from './audit-row.js';
import type { AuditThreadConfig, AuditThreadReply, AuditThreadRequest } from './sqlite-audit-thread.js';

const config = workerData as AuditThreadConfig;
const port = parentPort;
if (port === null) throw new Error('sqlite-audit-worker runs as a worker thread');

const db = new BetterSqlite3(config.path);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${config.synchronous}`);
db.pragma(`busy_timeout = ${config.busyTimeoutMs}`);
// Checkpoints are this thread's, but never inside a transaction: SQLite's automatic one runs in the COMMIT that
// crosses the bound, and would hold the write gate (below) for the milliseconds it takes to copy pages back.
db.pragma('wal_autocheckpoint = 0');
// Also what bounds an operating-system crash's loss under synchronous = NORMAL: the WAL is synced at checkpoints.
const CHECKPOINT_EVERY_MS = 250;
let lastCheckpoint = performance.now();
let wroteSince = false;
// The checkpoint after the last write, when no further write comes to run it.
let trailing: NodeJS.Timeout | undefined;
const store = sqliteAuditStore(db, config.journal);
// Journaled rows, kept until chained: the main thread then sends their ids alone.
const held = new Map<string, AuditRow>();

function resolve(rows: ReadonlyArray<AuditRow | string>): AuditRow[] {
  return rows.map((r) => {
    if (typeof r !== 'string') return r;
    const row = held.get(r);
    if (row === undefined) throw new Error(`audit row ${r} was not journaled by this thread`);
    return row;
  });
}

// Each transaction takes the process's write gate first, so a writer on the event loop waits for it exactly as long
// as it runs, instead of sleeping in SQLite's busy handler (threads/write-gate.ts).
const gate = config.gate !== undefined ? new WriteGate(config.gate) : undefined;

port.on('message', (m: AuditThreadRequest) => {
  let reply: AuditThreadReply;
  const owned = gate?.acquire(GATE_HOLDER.auditThread, config.busyTimeoutMs) === true;
  try {
    let value = 0;
    if (m.op === 'append') {
      const rows = resolve(m.rows);
      store.append(rows, m.uncertain, m.journaled);
      for (const r of rows) held.delete(r.id);
    } else if (m.op === 'journal') {
      store.journal(m.entries);
      for (const e of m.entries) held.set(e.row.id, e.row);
    } else value = store.recover();
    reply = { n: m.n, ok: true, value };
  } catch (err) {
    reply = { n: m.n, ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    if (owned) gate?.release(GATE_HOLDER.auditThread);
  }
  port.postMessage(reply);
  wroteSince = true;
  if (performance.now() - lastCheckpoint >= CHECKPOINT_EVERY_MS) checkpoint();
  else if (trailing === undefined) {
    trailing = setTimeout(checkpoint, CHECKPOINT_EVERY_MS);
    trailing.unref();
  }
});

/** PASSIVE: copies what no reader still needs, waits for nobody, and lets every writer go on meanwhile. */
function checkpoint(): void {
  if (trailing !== undefined) clearTimeout(trailing);
  trailing = undefined;
  lastCheckpoint = performance.now();
  if (!wroteSince) return;
  wroteSince = false;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or interrupted: the next one copies what this one did not.
  }
}
