/**
 * The two SQL dialects Writ runs on: SQLite (the embedded default) and PostgreSQL. Migrations and the few queries
 * that differ (the audit writer's locking, for one) branch on it; it lives apart from open-store.ts so that the
 * migrations, which the store runs, do not import the store.
 */
import { PostgresAdapter, type Kysely } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** The dialect a Kysely instance speaks, for the few writes that take a different shape on each. */
export function dialectOf<DB>(db: Kysely<DB>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
