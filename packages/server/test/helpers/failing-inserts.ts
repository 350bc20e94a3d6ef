/**
 * Makes every insert into one table fail, on either store (a trigger that raises), until the returned function
 * drops it: for tests of what a write that fails halfway leaves behind.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/storage/index.js';

export async function failInserts(kind: 'sqlite' | 'postgres', db: Kysely<Database>, table: keyof Database): Promise<() => Promise<void>> {
  const trigger = sql.id(`${table}_fail`);
  const on = sql.id(table);
  if (kind === 'sqlite') {
    await sql`CREATE TRIGGER ${trigger} BEFORE INSERT ON ${on} BEGIN SELECT RAISE(ABORT, 'inserts failing'); END`.execute(db);
    return async () => {
      await sql`DROP TRIGGER ${trigger}`.execute(db);
    };
  }
  await sql`CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'inserts failing'; END $$`.execute(
    db,
  );
  await sql`CREATE TRIGGER ${trigger} BEFORE INSERT ON ${on} FOR EACH ROW EXECUTE FUNCTION ${trigger}()`.execute(db);
  return async () => {
    await sql`DROP TRIGGER ${trigger} ON ${on}`.execute(db);
    await sql`DROP FUNCTION ${trigger}()`.execute(db);
  };
}
