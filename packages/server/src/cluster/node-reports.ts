/**
 * Every node writes its revocation freshness to the shared store on an interval, so a control node can show each
 * node's number — the console's overview, the posture report — and name the nodes that stopped reporting. A report is
 * a reading, never a decision: each node still refuses calls by its own freshness (cluster-node.ts), whatever the
 * table says.
 */
import type { Kysely } from 'kysely';
import type { AdminNodeReport } from '@writ/protocol';
import type { Database } from '../storage/index.js';
import type { Logger } from '../observability/index.js';
import type { Freshness } from './cluster-node.js';

/** What the admin overview sends of each node: its type is the wire type. */
export type NodeReport = AdminNodeReport;

export interface NodeReportsDeps {
  db: Kysely<Database>;
  nodeId: string;
  role: string;
  freshness(): Freshness;
  intervalMs: number;
  now: () => number;
  logger: Logger;
}

/** A node not heard from for this long is dropped from the table. */
const FORGET_MS = 24 * 3_600_000;

export function startNodeReports(d: NodeReportsDeps): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const report = async (): Promise<void> => {
    const f = d.freshness();
    const now = d.now();
    const row = { role: d.role, state: f.state, lag_ms: f.lagMs, last_seq: f.lastSeq, log_seq: f.logSeq, reported_at: now };
    await d.db
      .insertInto('cluster_nodes')
      .values({ node_id: d.nodeId, ...row })
      .onConflict((oc) => oc.column('node_id').doUpdateSet(row))
      .execute();
    await d.db
      .deleteFrom('cluster_nodes')
      .where('reported_at', '<', now - FORGET_MS)
      .execute();
  };
  const tick = (): void => {
    running = report().catch((err: unknown) => d.logger.warn({ err }, 'node report not written'));
  };
  tick();
  const timer = setInterval(tick, d.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** Every node's last report, newest first; `silent` when older than three intervals. */
export async function readNodeReports(db: Kysely<Database>, o: { intervalMs: number; now: number }): Promise<NodeReport[]> {
  const rows = await db.selectFrom('cluster_nodes').selectAll().orderBy('node_id').execute();
  return rows.map((r) => ({
    nodeId: r.node_id,
    role: r.role,
    state: r.state,
    lagMs: r.lag_ms === null ? null : Number(r.lag_ms),
    lastSeq: Number(r.last_seq),
    logSeq: Number(r.log_seq),
    reportedAt: Number(r.reported_at),
    silent: Number(r.reported_at) < o.now - 3 * o.intervalMs,
  }));
}
