/**
 * The two SQL dialects Writ runs on: SQLite (the embedded default) and PostgreSQL. Migrations and the few queries
 * that differ (the audit writer's locking, for one) branch on it; it lives apart from open-store.ts so that the
 * migrations, which the store runs, do not import the store.
 */
export type Dialect = 'sqlite' | 'postgres';
