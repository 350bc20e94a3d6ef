/**
 * Verifies the audit hash chain (principle 6: "prove the log was not altered"), streaming through the table in seq
 * order in batches, and names the first event where the stored log cannot be the one Writ wrote.
 *
 * What each problem means (the README walks through the reasoning):
 * - altered:   an event's body no longer hashes to its `hash` (or its indexed columns disagree with the hashed body,
 *              or the body is not the canonical text).
 * - removed:   a gap in seq, a first event that is not the genesis, or a `prev_hash` that matches no stored event
 *              (events were deleted and the rest renumbered, or the predecessor was rewritten and re-hashed).
 * - inserted:  a `prev_hash` that points to an earlier event than the predecessor (extra events sit between), or an
 *              event whose hash another event already has (a duplicate).
 * - reordered: a `prev_hash` that points to a later event.
 *
 * Limits: removing events from the tail, or appending well-formed events, leaves a valid chain; only an anchor kept
 * elsewhere (`anchor`, or signed checkpoints — see README) detects that.
 */
import type { Kysely } from 'kysely';
import type { AuditEventRow, Database } from '../storage/index.js';
import { canonicalJson } from './canonical-json.js';
import { chainHash, GENESIS_HASH } from './audit-chain.js';
import { AUDIT_EVENT_COLUMNS, indexable } from './audit-row.js';

export type AuditChainProblem = 'altered' | 'inserted' | 'removed' | 'reordered';

export type AuditChainResult =
  | { ok: true; count: number; headSeq: number; headHash: string }
  | { ok: false; firstBadSeq: number; problem: AuditChainProblem; detail: string };

export interface VerifyAuditChainOptions {
  /** Start here instead of at the genesis; the event before it is trusted as the starting point. */
  fromSeq?: number;
  /** Rows read per query. */
  batchSize?: number;
  /**
   * A (seq, hash) pair recorded earlier outside the database (a previous verification's head, a signed checkpoint).
   * The chain must still contain it: this is what detects truncation of the tail.
   */
  anchor?: { seq: number; hash: string };
  /** Several anchors (verified checkpoints): the chain must contain every one. */
  anchors?: ReadonlyArray<{ seq: number; hash: string }>;
}

/** Where the verifier reads the log: the database, or an export (`writ audit export --format jsonl`). */
export interface AuditLogSource {
  /** Rows with seq > `afterSeq`, in seq order, at most `limit`. */
  rowsAfter(afterSeq: number, limit: number): Promise<AuditLogRow[]>;
  hashAt(seq: number): Promise<string | undefined>;
  /** The lowest seq of a row with this hash, below `beforeSeq` when given. */
  seqOfHash(hash: string, beforeSeq?: number): Promise<number | undefined>;
}

export type AuditLogRow = Pick<
  AuditEventRow,
  'seq' | 'id' | 'time' | 'type' | 'trace_id' | 'task_id' | 'agent_id' | 'user_id' | 'decision' | 'reason' | 'body' | 'prev_hash' | 'hash'
>;

type Row = AuditLogRow;

const COLUMNS = ['id', 'time', 'type', 'trace_id', 'task_id', 'agent_id', 'user_id', 'decision', 'reason'] as const;

/**
 * @example
 * const r = await verifyAuditChain(store.db);
 * if (!r.ok) console.error(`audit log ${r.problem} at seq ${r.firstBadSeq}: ${r.detail}`);
 */
export function verifyAuditChain(db: Kysely<Database>, opts: VerifyAuditChainOptions = {}): Promise<AuditChainResult> {
  return verifyAuditLog(databaseLog(db), opts);
}

export async function verifyAuditLog(log: AuditLogSource, opts: VerifyAuditChainOptions = {}): Promise<AuditChainResult> {
  const batchSize = opts.batchSize ?? 1000;
  const fromSeq = opts.fromSeq ?? 1;
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) throw new TypeError('fromSeq must be a positive integer');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new TypeError('batchSize must be a positive integer');
  const anchors = new Map<number, string>();
  for (const a of [...(opts.anchor !== undefined ? [opts.anchor] : []), ...(opts.anchors ?? [])]) {
    const known = anchors.get(a.seq);
    if (known !== undefined && known !== a.hash) throw new TypeError(`two anchors at ${a.seq} with different hashes`);
    if (a.seq >= fromSeq) anchors.set(a.seq, a.hash);
  }
  const lastAnchor = Math.max(0, ...anchors.keys());

  let prevSeq = fromSeq - 1;
  let prevHash = GENESIS_HASH;
  if (fromSeq > 1) {
    const start = await log.hashAt(fromSeq - 1);
    if (start === undefined)
      return { ok: false, firstBadSeq: fromSeq - 1, problem: 'removed', detail: `event ${fromSeq - 1}, the starting point, is missing` };
    prevHash = start;
  }
  let count = 0;
  for (;;) {
    const rows = await log.rowsAfter(prevSeq, batchSize);
    for (const row of rows) {
      const bad = await check(log, row, prevSeq, prevHash);
      if (bad !== undefined) return bad;
      const anchored = anchors.get(row.seq);
      if (anchored !== undefined && row.hash !== anchored)
        return { ok: false, firstBadSeq: row.seq, problem: 'altered', detail: `event ${row.seq} does not have the anchored hash` };
      prevSeq = row.seq;
      prevHash = row.hash;
      count++;
    }
    if (rows.length < batchSize) break;
  }
  if (lastAnchor > prevSeq) {
    return {
      ok: false,
      firstBadSeq: prevSeq + 1,
      problem: 'removed',
      detail: `the chain ends at ${prevSeq}, before the anchored event ${lastAnchor}: its tail was removed`,
    };
  }
  return { ok: true, count, headSeq: prevSeq, headHash: prevHash };
}

/** The log as the database holds it. */
export function databaseLog(db: Kysely<Database>): AuditLogSource {
  return {
    rowsAfter: (afterSeq, limit) =>
      db.selectFrom('audit_events').select(AUDIT_EVENT_COLUMNS).where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute(),
    hashAt: async (seq) => (await db.selectFrom('audit_events').select('hash').where('seq', '=', seq).executeTakeFirst())?.hash,
    async seqOfHash(hash, beforeSeq) {
      let q = db.selectFrom('audit_events').select('seq').where('hash', '=', hash);
      if (beforeSeq !== undefined) q = q.where('seq', '<', beforeSeq);
      return (await q.orderBy('seq').limit(1).executeTakeFirst())?.seq;
    },
  };
}

/** The log as an export holds it: rows in any order, read into memory. */
export function exportedLog(rows: readonly AuditLogRow[]): AuditLogSource {
  const sorted = [...rows].sort((a, b) => a.seq - b.seq);
  const bySeq = new Map(sorted.map((r) => [r.seq, r] as const));
  const byHash = new Map<string, number[]>();
  for (const r of sorted) byHash.set(r.hash, [...(byHash.get(r.hash) ?? []), r.seq]);
  return {
    rowsAfter(afterSeq, limit) {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((sorted[mid] as AuditLogRow).seq <= afterSeq) lo = mid + 1;
        else hi = mid;
      }
      return Promise.resolve(sorted.slice(lo, lo + limit));
    },
    hashAt: (seq) => Promise.resolve(bySeq.get(seq)?.hash),
    seqOfHash: (hash, beforeSeq) => Promise.resolve((byHash.get(hash) ?? []).find((s) => beforeSeq === undefined || s < beforeSeq)),
  };
}

async function check(log: AuditLogSource, row: Row, prevSeq: number, prevHash: string): Promise<AuditChainResult | undefined> {
  const fail = (firstBadSeq: number, problem: AuditChainProblem, detail: string): AuditChainResult => ({
    ok: false,
    firstBadSeq,
    problem,
    detail,
  });

  // 1. The event itself: its hash, its body's form, and the columns queries use.
  if (chainHash(row.prev_hash, row.body) !== row.hash)
    return fail(row.seq, 'altered', `event ${row.seq}: body does not hash to the stored hash`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(row.body) as Record<string, unknown>;
  } catch {
    return fail(row.seq, 'altered', `event ${row.seq}: body is not JSON`);
  }
  if (typeof body !== 'object' || body === null || canonicalJson(body) !== row.body)
    return fail(row.seq, 'altered', `event ${row.seq}: body is not canonical JSON`);
  for (const c of COLUMNS) {
    // The hash covers the body only: a column edited to hide an event from queries must still be caught.
    const value = body[c] ?? null;
    if ((typeof value === 'string' ? indexable(value) : value) !== row[c])
      return fail(row.seq, 'altered', `event ${row.seq}: column ${c} disagrees with the hashed body`);
  }

  // 2. Its place in the sequence.
  if (row.seq !== prevSeq + 1) {
    return fail(
      prevSeq + 1,
      'removed',
      prevSeq === 0 ? `the log starts at ${row.seq}, not at 1` : `events ${prevSeq + 1}..${row.seq - 1} are missing`,
    );
  }
  // A correctly linked event needs no lookup. (A linked duplicate is impossible without an earlier broken link: its
  // predecessor would have to duplicate the original's predecessor, and so on down to a second genesis event.)
  if (row.prev_hash === prevHash) return undefined;

  // 3. The link is broken: find what the event does point to.
  const twin = await log.seqOfHash(row.hash, row.seq);
  if (twin !== undefined) return fail(row.seq, 'inserted', `event ${row.seq} duplicates event ${twin}`);
  if (row.prev_hash === GENESIS_HASH) {
    return fail(1, 'inserted', `events 1..${prevSeq} are not in the chain: event ${row.seq} claims to be the first event`);
  }
  const target = await log.seqOfHash(row.prev_hash);
  if (target === undefined) {
    return fail(
      row.seq,
      'removed',
      `event ${row.seq} follows an event that is no longer in the log (events were removed before it and the rest renumbered, or event ${prevSeq} was rewritten with a recomputed hash)`,
    );
  }
  if (target > row.seq) return fail(row.seq, 'reordered', `event ${row.seq} follows event ${target}, which comes after it`);
  // It follows an earlier event: what sits between that event and this one is not part of the chain Writ wrote.
  return fail(target + 1, 'inserted', `events ${target + 1}..${prevSeq} are not in the chain: event ${row.seq} follows event ${target}`);
}
