/**
 * Every storage-touching test runs against every store: SQLite always, PostgreSQL when WRIT_TEST_DATABASE_URL is
 * set (each store in a schema of its own, dropped afterwards). Without the URL the PostgreSQL suites are skipped,
 * visibly: node:test reports them as skipped with the reason.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import pg from 'pg';
import { openStore, PG_MIGRATION_LOCK, type Store } from '../../src/storage/index.js';

export const TEST_DATABASE_URL = process.env['WRIT_TEST_DATABASE_URL'];

export interface StoreKind {
  name: 'sqlite' | 'postgres';
  open(): Promise<TestStore>;
}

export interface TestStore extends Store {
  /** Closes the store and removes its data (file or schema). */
  dispose(): Promise<void>;
  /** Connection options that open the same data again (for restart tests). */
  reopenOptions: { databaseUrl?: string; sqlitePath?: string; pgSchema?: string };
}

const sqliteKind: StoreKind = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'writ-test-'));
    const sqlitePath = join(dir, 'writ.db');
    const store = await openStore({ sqlitePath });
    return Object.assign(store, {
      reopenOptions: { sqlitePath },
      async dispose() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  },
};

export const postgresKind: StoreKind = {
  name: 'postgres',
  async open() {
    const url = TEST_DATABASE_URL;
    if (url === undefined) throw new Error('WRIT_TEST_DATABASE_URL not set');
    const pgSchema = `writ_test_${randomBytes(6).toString('hex')}`;
    const drop = (): Promise<void> =>
      withSchemaLock(url, (c) => c.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`).then(() => undefined));
    let store: Store;
    try {
      // Test files run in parallel processes; catalog changes (CREATE/DROP SCHEMA, migrations) are serialised so
      // one test's DROP never races another's migration.
      // openStore creates and migrates the schema under the same advisory lock that DROP takes below.
      store = await openStore({ databaseUrl: url, pgSchema, pgPoolSize: 4 });
    } catch (err) {
      await drop();
      throw err;
    }
    return Object.assign(store, {
      reopenOptions: { databaseUrl: url, pgSchema },
      async dispose() {
        await store.close();
        await drop();
      },
    });
  },
};

/** Runs `fn` while holding a session advisory lock shared by every test process on this database. */
async function withSchemaLock<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PG_MIGRATION_LOCK]);
    return await fn(client);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PG_MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

export const STORE_KINDS: readonly StoreKind[] = [sqliteKind, postgresKind];

/** `describe` once per store kind; the PostgreSQL one is skipped, with the reason shown, when no URL is given. */
export function describeEachStore(title: string, fn: (kind: StoreKind) => void): void {
  for (const kind of STORE_KINDS) {
    const skip = kind.name === 'postgres' && TEST_DATABASE_URL === undefined ? 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped' : false;
    describe(`${title} [${kind.name}]`, { skip }, () => fn(kind));
  }
}
