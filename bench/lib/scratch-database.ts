/**
 * A fresh PostgreSQL database per bench run (`CREATE DATABASE writ_bench_<random>…`, dropped afterwards), so a
 * benchmark never writes into a database anyone else uses.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface ScratchDatabase {
  readonly name: string;
  /** The server URL with this database as its path. */
  readonly url: string;
  drop(): Promise<void>;
}

/** True when a PostgreSQL server answers at `url` within `timeoutMs`. */
export async function postgresReachable(url: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A random prefix for this run's databases: `writ_bench_<hex>`. */
export function scratchPrefix(): string {
  return `writ_bench_${randomBytes(4).toString('hex')}`;
}

export async function createScratchDatabase(serverUrl: string, name: string): Promise<ScratchDatabase> {
  if (!/^writ_bench_[a-z0-9_]{1,40}$/.test(name)) throw new TypeError(`not a bench database name: ${name}`);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
