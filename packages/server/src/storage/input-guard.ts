/**
 * The store's input guard: no query runs with a NUL character in a text parameter. PostgreSQL refuses such text
 * (SQLSTATE 22021) and SQLite keeps it, so without the guard the same request would fail with a 500 on one store and
 * be stored on the other. Edges refuse NULs first, with their own error shapes; this is the net under all of them —
 * `UnacceptableInputError`, which every wire family answers as an invalid request (errors/error-response.ts).
 * It sits at the driver, on the compiled query's flat parameter list: the cost is one pass over the parameters.
 */
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';
import { UnacceptableInputError } from '../errors/index.js';

function check(query: CompiledQuery): void {
  for (const p of query.parameters) {
    if (typeof p === 'string' && p.includes('\0')) throw new UnacceptableInputError('a text value contains a NUL character');
  }
}

class GuardedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  constructor(inner: DatabaseConnection) {
    this.inner = inner;
  }
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    check(query);
    return this.inner.executeQuery<R>(query);
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    check(query);
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/** Drivers keep private state on their own connection objects, so every driver call gets the one it made. */
const unwrap = (c: DatabaseConnection): DatabaseConnection => (c instanceof GuardedConnection ? c.inner : c);

class GuardedDriver implements Driver {
  readonly inner: Driver;
  constructor(inner: Driver) {
    this.inner = inner;
  }
  init(): Promise<void> {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new GuardedConnection(await this.inner.acquireConnection());
  }
  beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(unwrap(c), settings);
  }
  commitTransaction(c: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(unwrap(c));
  }
  rollbackTransaction(c: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(unwrap(c));
  }
  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(c));
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `dialect` with every query's text parameters checked before they reach the database. */
export function guardedDialect(dialect: Dialect): Dialect {
  return {
    createDriver: () => new GuardedDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
