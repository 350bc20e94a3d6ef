/**
 * The audit writer thread for SQLite: a connection of its own to the database file, so that building the chain and
 * the insert transaction never run on the event loop that serves calls. The main thread sends one batch at a time
 * and learns when it has committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { sqliteAppend } from './sqlite-audit-append.js';
import type { AuditThreadConfig, AuditThreadReply, AuditThreadRequest } from './sqlite-audit-thread.js';

const config = workerData as AuditThreadConfig;
const port = parentPort;
if (port === null) throw new Error('sqlite-audit-worker runs as a worker thread');

const db = new BetterSqlite3(config.path);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${config.synchronous}`);
db.pragma(`busy_timeout = ${config.busyTimeoutMs}`);
const append = sqliteAppend(db);

port.on('message', (m: AuditThreadRequest) => {
  let reply: AuditThreadReply;
  try {
    append(m.rows, m.uncertain);
    reply = { n: m.n, ok: true };
  } catch (err) {
    reply = { n: m.n, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
