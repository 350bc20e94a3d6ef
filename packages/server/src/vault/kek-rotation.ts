/**
 * KEK rotation: every envelope Writ stores (secrets, signing keys, push credentials …) re-wrapped under the current
 * KEK, online, so the previous one can be destroyed. Only each envelope's key wrap changes (crypto/envelope.ts), and
 * each row is written on its own with a compare-and-set on the envelope it read. So:
 *
 * - serving goes on throughout: a node configured with the new KEK and the previous one opens both kinds of envelope;
 * - a write that races the rotation wins, and its row is read again on the next pass;
 * - an interrupted rotation leaves every row either untouched or done, and running it again finishes the rest.
 */
import type { Kysely } from 'kysely';
import { CryptoError, envelopeKekId, rewrapEnvelope, type KeyRing, type SealedColumn } from '../crypto/index.js';
import type { Database } from '../storage/index.js';

/** How many envelopes each column holds under each KEK id. */
export interface KekInventory {
  current: string;
  columns: Array<{ name: string; byKek: Record<string, number> }>;
  /** Envelopes not yet under the current KEK, over all columns. */
  remaining: number;
}

export interface KekRotationReport extends KekInventory {
  rewrapped: number;
  /** Rows that could not be re-wrapped (their KEK is not configured, or the envelope does not open): named, never shown. */
  failed: Array<{ name: string; row: string; code: string }>;
}

type Row = Record<string, unknown>;
// The engine reads tables it is told about at run time; the descriptors (SealedColumn) carry the names.
type DynamicDb = Kysely<Record<string, Row>>;

export async function kekInventory(db: Kysely<Database>, ring: KeyRing, columns: readonly SealedColumn[]): Promise<KekInventory> {
  const out: KekInventory = { current: ring.current.id, columns: [], remaining: 0 };
  for (const c of columns) {
    const byKek: Record<string, number> = {};
    for (const row of await sealedRows(db, c)) {
      const id = kekIdOf(row[c.column] as string);
      byKek[id] = (byKek[id] ?? 0) + 1;
      if (id !== ring.current.id) out.remaining++;
    }
    out.columns.push({ name: c.name, byKek });
  }
  return out;
}

/**
 * Re-wraps every envelope not under `ring.current`. `limit` stops after that many rows (a test interrupts a rotation
 * with it; an operator can pace one).
 *
 * @example
 * const report = await rotateKek(db, new KeyRing(next, [old]), [SECRET_ENVELOPES, SIGNING_KEY_ENVELOPES]);
 * report.remaining // 0: `old` can be removed from the configuration
 */
export async function rotateKek(
  db: Kysely<Database>,
  ring: KeyRing,
  columns: readonly SealedColumn[],
  o: { limit?: number } = {},
): Promise<KekRotationReport> {
  let rewrapped = 0;
  const failed: KekRotationReport['failed'] = [];
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  for (const c of columns) {
    // A row another writer changed between our read and our write is read again; three passes bound a row that
    // keeps changing (it is then left for the next run, and the report counts it as remaining).
    for (let pass = 0; pass < 3; pass++) {
      let raced = 0;
      for (const row of await sealedRows(db, c)) {
        if (rewrapped >= limit) break;
        const envelope = row[c.column] as string;
        let moved: string | undefined;
        try {
          moved = rewrapEnvelope(ring, envelope, c.aad(row));
        } catch (err) {
          if (pass === 0) failed.push({ name: c.name, row: rowName(c, row), code: err instanceof CryptoError ? err.code : 'ERR_INTERNAL' });
          continue;
        }
        if (moved === undefined) continue;
        if (await compareAndSet(db, c, row, envelope, moved, ring.current.id)) rewrapped++;
        else raced++;
      }
      if (raced === 0 || rewrapped >= limit) break;
    }
  }
  return { ...(await kekInventory(db, ring, columns)), rewrapped, failed };
}

async function sealedRows(db: Kysely<Database>, c: SealedColumn): Promise<Row[]> {
  const d = db as unknown as DynamicDb;
  return d.selectFrom(c.table).selectAll().where(c.column, 'is not', null).execute();
}

async function compareAndSet(db: Kysely<Database>, c: SealedColumn, row: Row, was: string, now: string, kekId: string): Promise<boolean> {
  const d = db as unknown as DynamicDb;
  const set: Row = { [c.column]: now };
  if (c.kekIdColumn !== undefined) set[c.kekIdColumn] = kekId;
  let q = d.updateTable(c.table).set(set).where(c.column, '=', was);
  for (const k of c.key) q = q.where(k, '=', row[k]);
  const res = await q.executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

function kekIdOf(envelope: string): string {
  try {
    return envelopeKekId(envelope);
  } catch {
    return '(malformed)';
  }
}

function rowName(c: SealedColumn, row: Row): string {
  return c.key.map((k) => String(row[k])).join('/');
}
