/**
 * Each cluster node's revocation freshness as it last reported it (cluster/node-reports.ts), so any control node can
 * show every node's number — and which nodes have gone silent.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ms = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('cluster_nodes')
    .addColumn('node_id', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('lag_ms', ms)
    .addColumn('last_seq', ms, (c) => c.notNull())
    .addColumn('log_seq', ms, (c) => c.notNull())
    .addColumn('reported_at', ms, (c) => c.notNull())
    .execute();
}
