/**
 * Opens Writ's store: Kysely over SQLite (better-sqlite3, WAL) by default, or PostgreSQL (pg) when a database URL
 * is configured, and applies pending migrations before anything else touches it.
 */
import { guardedDialect } from './input-guard.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type Migration,
  type MigrationProvider,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';
import { GATE_HOLDER, WriteGate } from '../threads/index.js';
import pg from 'pg';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';
import type { Dialect } from './dialect.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** PostgreSQL only: the schema Writ's tables live in. */
  readonly schema?: string;
  /**
   * SQLite only: the driver's own handle, for the one hot write path (audit inserts) where a cached prepared
   * statement costs a fraction of building a multi-row insert through Kysely for every batch.
   */
  readonly sqlite?: BetterSqlite3.Database;
  /**
   * SQLite on a file only: its path and `synchronous` setting, for a second connection of one's own (the audit), and
   * the process's write gate that connection takes turns at (threads/write-gate.ts).
   */
  readonly sqliteFile?: { readonly path: string; readonly synchronous: SqliteSynchronous; readonly gate: SharedArrayBuffer };
  /** Where the data lives, for logs (never includes a password). */
  readonly location: string;
  /**
   * PostgreSQL only: how to open a connection of one's own to the same database and schema — the cluster listener
   * holds one for LISTEN, which a pooled connection cannot do.
   */
  readonly connection?: { readonly connectionString: string; readonly options?: string };
  /**
   * PostgreSQL only: a Kysely of its own on `connections` (default 1) connections to the same database and schema, for
   * a writer whose transactions must not wait for the shared pool (the audit, the budget counters). With
   * `asynchronousCommit` its sessions run with `synchronous_commit = off`: a commit returns before its WAL reaches
   * disk, so a PostgreSQL crash can lose the last moments of its commits (never part of one). The caller destroys it.
   */
  dedicated?(o?: DedicatedOptions): Kysely<Database>;
  close(): Promise<void>;
}

export interface DedicatedOptions {
  connections?: number;
  asynchronousCommit?: boolean;
}

export interface OpenStoreOptions {
  databaseUrl?: string | undefined;
  sqlitePath?: string;
  /** PostgreSQL schema to use (created if missing); tests give each run its own. */
  pgSchema?: string;
  pgPoolSize?: number;
  /**
   * SQLite's `synchronous` in WAL mode: NORMAL (default) loses no committed transaction when the process dies, but an
   * operating-system crash or power loss may take the last ones since the WAL was last synced; FULL syncs the WAL
   * at every commit; EXTRA also syncs the directory after a WAL reset (docs/audit.md).
   */
  sqliteSynchronous?: SqliteSynchronous;
}

export type SqliteSynchronous = 'NORMAL' | 'FULL' | 'EXTRA';

/**
 * PostgreSQL advisory lock held while a schema is created and migrated: several Writ nodes starting at once on one
 * database (or test processes creating and dropping schemas) migrate one after another, never over each other.
 */
export const PG_MIGRATION_LOCK = 7420001;

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (opts.databaseUrl === undefined) return migrated(openSqlite(opts.sqlitePath ?? ':memory:', opts.sqliteSynchronous ?? 'NORMAL'));
  const url = opts.databaseUrl;
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [PG_MIGRATION_LOCK]);
    return await migrated(await openPostgres(url, opts, lock));
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATION_LOCK]).catch(() => undefined);
    await lock.end();
  }
}

async function migrated(store: Store): Promise<Store> {
  try {
    await migrate(store);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

function openSqlite(path: string, synchronous: SqliteSynchronous): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  if (!['NORMAL', 'FULL', 'EXTRA'].includes(synchronous)) throw new TypeError(`invalid SQLite synchronous ${String(synchronous)}`);
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode keeps the database consistent on power loss and costs a tenth of FULL (measured on our
  // reference machine); what each setting can lose is in docs/audit.md.
  sqlite.pragma(`synchronous = ${synchronous}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // A file can have a second connection in this process (the audit writer thread): the two take turns at the gate.
  const gate = path !== ':memory:' ? new WriteGate() : undefined;
  const database = withStatementCache(sqlite, gate !== undefined ? { gate, waitMs: BUSY_TIMEOUT_MS } : undefined);
  const db = new Kysely<Database>({ dialect: guardedDialect(new SqliteDialect({ database })) });
  return {
    db,
    dialect: 'sqlite',
    location: `sqlite:${path}`,
    sqlite,
    ...(gate !== undefined ? { sqliteFile: { path, synchronous, gate: gate.shared } } : {}),
    close: () => db.destroy(),
  };
}

/** How long a writer waits for the file (SQLite's busy timeout) or for the write gate. */
const BUSY_TIMEOUT_MS = 5_000;

/** Distinct SQL texts Writ sends are a few dozen (plus multi-row inserts by row count); the bound is generous. */
const STATEMENT_CACHE_MAX = 500;

/**
 * Kysely's SQLite driver prepares every query again, and preparing costs more than running a primary-key lookup.
 * Statements are reusable: the driver runs one query at a time on its single connection (a mutex, held for the
 * whole of a stream too), and better-sqlite3 resets a statement after each run. SQLite re-prepares a statement by
 * itself when a migration changes the schema under it.
 *
 * With a `gate`, a write takes the process's write gate first (threads/write-gate.ts) and keeps it, as SQLite keeps its
 * lock, to the end of its transaction: from a transaction's first write to its `commit` or `rollback`, or for the one
 * statement outside a transaction. Reads never take it (WAL readers do not wait for writers).
 */
function withStatementCache(sqlite: BetterSqlite3.Database, gate?: { gate: WriteGate; waitMs: number }): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  let inTransaction = false;
  let owned = false;
  const finish = (): void => {
    inTransaction = false;
    if (owned) {
      owned = false;
      gate?.gate.release(GATE_HOLDER.eventLoop);
    }
  };
  const writing = <T>(run: () => T): T => {
    if (!owned && gate !== undefined) owned = gate.gate.acquire(GATE_HOLDER.eventLoop, gate.waitMs);
    try {
      return run();
    } finally {
      if (!inTransaction) finish();
    }
  };
  const gated = (text: string, stmt: BetterSqlite3.Statement): SqliteStatement => {
    // Kysely's own transaction commands (sqlite-driver.js): exactly these texts.
    if (text === 'begin')
      return {
        reader: false,
        all: (p) => stmt.all(p),
        iterate: (p) => stmt.iterate(p),
        run: (p) => {
          const r = stmt.run(p);
          inTransaction = true;
          return r;
        },
      };
    if (text === 'commit' || text === 'rollback')
      return {
        reader: false,
        all: (p) => stmt.all(p),
        iterate: (p) => stmt.iterate(p),
        run: (p) => {
          try {
            return stmt.run(p);
          } finally {
            finish();
          }
        },
      };
    if (stmt.readonly) return stmt;
    return {
      reader: stmt.reader,
      all: (p) => writing(() => stmt.all(p)),
      iterate: (p) => stmt.iterate(p),
      run: (p) => writing(() => stmt.run(p)),
    };
  };
  return {
    close: () => sqlite.close(),
    prepare: (text: string) => {
      let stmt = statements.get(text);
      if (stmt === undefined) {
        const prepared = sqlite.prepare(text);
        stmt = gate === undefined ? prepared : gated(text, prepared);
        if (statements.size >= STATEMENT_CACHE_MAX) statements.delete(statements.keys().next().value as string);
        statements.set(text, stmt);
      }
      return stmt;
    },
  };
}

async function openPostgres(url: string, opts: OpenStoreOptions, admin: pg.Client): Promise<Store> {
  const schema = opts.pgSchema;
  if (schema !== undefined) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new TypeError(`invalid PostgreSQL schema name ${schema}`);
    await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  }
  const searchPath = schema !== undefined ? { options: `-c search_path=${schema}` } : {};
  const db = postgresDb(url, searchPath, opts.pgPoolSize ?? 10);
  const safe = new URL(url);
  safe.password = '';
  let current: string;
  try {
    current = schema ?? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s ?? 'public';
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return {
    db,
    dialect: 'postgres',
    schema: current,
    dedicated: (o = {}) => {
      const options = [searchPath.options, o.asynchronousCommit === true ? '-c synchronous_commit=off' : undefined].filter(
        (x) => x !== undefined,
      );
      return postgresDb(url, options.length > 0 ? { options: options.join(' ') } : {}, o.connections ?? 1);
    },
    connection: { connectionString: url, ...searchPath },
    location: `${safe.protocol}//${safe.host}${safe.pathname}${schema !== undefined ? ` schema ${schema}` : ''}`,
    close: () => db.destroy(),
  };
}

function postgresDb(url: string, searchPath: { options?: string }, max: number): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // A database that does not answer fails the request (503, retryable) instead of holding it forever.
    connectionTimeoutMillis: 10_000,
    ...searchPath,
    // Times are epoch milliseconds in BIGINT columns; they fit a double exactly, so parse them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // A connection the database (or the network) drops emits 'error': an idle one on the pool, one in use on the client
  // itself (pg-pool listens only while it is idle). Unheard, either crashes the process. The query in flight fails
  // on its own, the pool discards the connection and opens another on the next query — that is all it takes.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<Database>({ dialect: guardedDialect(new PostgresDialect({ pool })) });
}

async function migrate(store: Store): Promise<void> {
  const provider: MigrationProvider = {
    getMigrations: () =>
      Promise.resolve(
        Object.fromEntries(
          Object.entries(MIGRATIONS).map(([name, m]): [string, Migration] => [name, { up: (db) => m.up(db, store.dialect) }]),
        ),
      ),
  };
  // Name the schema explicitly: without it Kysely looks for its migration tables in every schema of the database and
  // can mistake another application's (or another Writ's) for its own.
  const migrator = new Migrator({ db: store.db, provider, ...(store.schema !== undefined ? { migrationTableSchema: store.schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}
