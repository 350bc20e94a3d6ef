/**
 * The audit writer thread for SQLite: a connection of its own to the database file, so that the journal, the chain
 * and their transactions never run on the event loop that serves calls. Requests are answered in the order they came.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { sqliteAuditStore } from './sqlite-audit-append.js';
import type { AuditThreadConfig, AuditThreadReply, AuditThreadRequest } from './sqlite-audit-thread.js';

const config = workerData as AuditThreadConfig;
const port = parentPort;
if (port === null) throw new Error('sqlite-audit-worker runs as a worker thread');

const db = new BetterSqlite3(config.path);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${config.synchronous}`);
db.pragma(`busy_timeout = ${config.busyTimeoutMs}`);
const store = sqliteAuditStore(db);

port.on('message', (m: AuditThreadRequest) => {
  let reply: AuditThreadReply;
  try {
    let value = 0;
    if (m.op === 'append') store.append(m.rows, m.uncertain, m.journaled);
    else if (m.op === 'journal') store.journal(m.entries);
    else value = store.recover();
    reply = { n: m.n, ok: true, value };
  } catch (err) {
    reply = { n: m.n, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
