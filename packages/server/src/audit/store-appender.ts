/**
 * The appender a store calls for: SQLite on a file → the writer thread with its own connection; PostgreSQL → a
 * connection of its own; an in-memory SQLite database (tests, `writ dev --memory`), which no second connection can
 * open → the store's own handle on this thread.
 */
import type { Store } from '../storage/index.js';
import type { AuditAppender } from './audit-appender.js';
import { postgresAppender } from './postgres-audit-append.js';
import { SINGLE_PROCESS_JOURNAL, sqliteAuditStore, type JournalScope } from './sqlite-audit-append.js';
import { threadedSqliteAppender } from './sqlite-audit-thread.js';

export function storeAppender(store: Store, opts: { busyTimeoutMs?: number; journal?: JournalScope } = {}): AuditAppender {
  if (store.sqliteFile !== undefined) {
    // The writer thread's connection commits often, and whichever connection commits past the WAL's bound runs the
    // checkpoint (milliseconds): let it be that thread's, never a request's on the event loop.
    store.sqlite?.pragma('wal_autocheckpoint = 0');
    return threadedSqliteAppender({
      ...store.sqliteFile,
      busyTimeoutMs: opts.busyTimeoutMs ?? 5_000,
      journal: opts.journal ?? SINGLE_PROCESS_JOURNAL,
    });
  }
  if (store.sqlite !== undefined) {
    const s = sqliteAuditStore(store.sqlite);
    return {
      runs: 'main-thread',
      append(batch, uncertain, journaled = []) {
        s.append(batch, uncertain, journaled);
        return Promise.resolve();
      },
      journal(entries) {
        s.journal(entries);
        return Promise.resolve();
      },
      recover: () => Promise.resolve(s.recover()),
      close: () => Promise.resolve(),
    };
  }
  if (store.connection !== undefined && store.schema !== undefined)
    return postgresAppender({ connection: store.connection, schema: store.schema });
  throw new TypeError(`no audit appender for a ${store.dialect} store without a connection of its own`);
}
