/**
 * A database of its own on the test PostgreSQL server (`CREATE DATABASE writ_<purpose>_<random>`), dropped by
 * `dispose`: for tests that run Writ as separate processes, which cannot share a schema-per-test store.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface ScratchDatabase {
  /** The server URL with this database as its path. */
  databaseUrl: string;
  dispose(): Promise<void>;
}

export async function createScratchDatabase(baseUrl: string, purpose: string): Promise<ScratchDatabase> {
  const name = `writ_${purpose}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    async dispose() {
      const a = new pg.Client({ connectionString: baseUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
