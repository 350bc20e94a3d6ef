/**
 * Bench set-up, not a product path: `count` unexpired revocations of every target type (tokens, tasks, agents, users,
 * DPoP keys, in turn) written straight into the `revocations` table in batches, so that a node started afterwards
 * loads them (`RevocationService.load()` runs at start). No entry can match a token the bench uses: every id is
 * random and has a `bench-` prefix the product never makes.
 */
import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { RevocationEntry } from '@writ/verify/internal';

const TYPES = ['token', 'task', 'agent', 'user', 'key'] as const;
type TargetType = (typeof TYPES)[number];

export interface SyntheticTarget {
  type: TargetType;
  id: string;
}

/** Targets `from … from+count-1`, the type cycling through all five, ids shaped like the real ones (lengths). */
export function syntheticTargets(from: number, count: number): SyntheticTarget[] {
  // 30 random bytes per id, each encoded on its own: slices of one long string would keep all of it alive.
  const rnd = randomBytes(count * 30);
  const out: SyntheticTarget[] = new Array(count);
  for (let k = 0; k < count; k++) {
    const i = from + k;
    const type = TYPES[i % TYPES.length] as TargetType;
    const r = (bytes: number): string => rnd.toString('base64url', k * 30, k * 30 + bytes);
    const id =
      type === 'token'
        ? `bench-${r(16)}`
        : type === 'task'
          ? `bench-task_${r(18)}`
          : type === 'agent'
            ? `bench-agent-${i}`
            : type === 'user'
              ? `bench-idp:user-${r(12)}`
              : // A JWK thumbprint is 43 base64url characters.
                `bench-${r(28)}`;
    out[k] = { type, id };
  }
  return out;
}

/** The entry `RevocationSet.apply` would get for a synthetic target (for the in-process micro-benchmark). */
export function syntheticEntry(t: SyntheticTarget, seq: number, before: number, expiresAt: number): RevocationEntry {
  const base = { seq, expiresAt };
  switch (t.type) {
    case 'token':
      return { ...base, target: { type: 'token', jti: t.id } };
    case 'task':
      return { ...base, target: { type: 'task', taskId: t.id } };
    case 'agent':
      return { ...base, target: { type: 'agent', agentId: t.id, before } };
    case 'user':
      return { ...base, target: { type: 'user', userId: t.id, before } };
    case 'key':
      return { ...base, target: { type: 'key', jkt: t.id, before } };
  }
}

const BATCH = 50_000;
const needsBefore = (t: TargetType): boolean => t === 'agent' || t === 'user' || t === 'key';

/** Inserts `count` synthetic revocations valid until `expiresAt` (epoch s). Returns the time taken, ms. */
export async function insertRevocations(
  store: { databaseUrl: string } | { sqlitePath: string },
  count: number,
  expiresAt: number,
): Promise<number> {
  const t0 = performance.now();
  // Made over the past ten minutes, as an accumulated log would be: not "just now", which a cluster node's catch-up
  // re-reads by creation time (its commit window).
  const nowMs = Date.now() - 600_000;
  const before = Math.floor(nowMs / 1000);
  if ('databaseUrl' in store) {
    const client = new pg.Client({ connectionString: store.databaseUrl });
    await client.connect();
    try {
      for (let from = 0; from < count; from += BATCH) {
        const batch = syntheticTargets(from, Math.min(BATCH, count - from));
        await client.query(
          `INSERT INTO revocations (target_type, target_id, before, expires_at, reason, actor, created_at)
           SELECT t, i, b, $4, 'bench set-up', 'bench:bulk', $5 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(t, i, b)`,
          [batch.map((x) => x.type), batch.map((x) => x.id), batch.map((x) => (needsBefore(x.type) ? before : null)), expiresAt, nowMs],
        );
      }
    } finally {
      await client.end();
    }
  } else {
    const db = new BetterSqlite3(store.sqlitePath);
    try {
      db.pragma('busy_timeout = 5000');
      const insert = db.prepare(
        `INSERT INTO revocations (target_type, target_id, before, expires_at, reason, actor, created_at) VALUES (?, ?, ?, ?, 'bench set-up', 'bench:bulk', ?)`,
      );
      const many = db.transaction((batch: SyntheticTarget[]) => {
        for (const x of batch) insert.run(x.type, x.id, needsBefore(x.type) ? before : null, expiresAt, nowMs);
      });
      for (let from = 0; from < count; from += BATCH) many(syntheticTargets(from, Math.min(BATCH, count - from)));
    } finally {
      db.close();
    }
  }
  return performance.now() - t0;
}
