/**
 * A node's place in the cluster (cluster/): on PostgreSQL every node hears what the others write — revocations as
 * they commit, register and key changes — and reports its freshness where a control node can read it (the console's
 * overview). On the embedded store one process holds the whole log and there is no cluster.
 */
import type { WritConfig } from '../config/index.js';
import type { Store } from '../storage/index.js';
import type { RevocationService } from '../revocation/index.js';
import type { Logger } from '../observability/index.js';
import { ClusterNode, startNodeReports, type ClusterNodeDeps, type ClusterRole } from '../cluster/index.js';

export interface ClusterWiring {
  store: Store;
  config: WritConfig;
  nodeId: string;
  role: ClusterRole;
  revocations: RevocationService;
  onRemoteChange: ClusterNodeDeps['onRemoteChange'];
  onResync: ClusterNodeDeps['onResync'];
  logger: Logger;
  now: () => number;
}

export interface JoinedCluster {
  node: ClusterNode;
  /** Stops the freshness reports, then the node. */
  close(): Promise<void>;
}

/** Undefined on a store with no connection of its own to listen on (the embedded SQLite file). */
export function joinCluster(w: ClusterWiring): JoinedCluster | undefined {
  const { store, config } = w;
  if (store.connection === undefined) return undefined;
  const node = new ClusterNode({
    db: store.db,
    connection: store.connection,
    schema: store.schema ?? 'public',
    nodeId: w.nodeId,
    role: w.role,
    revocations: w.revocations,
    onRemoteChange: w.onRemoteChange,
    onResync: w.onResync,
    heartbeatIntervalMs: config.cluster.heartbeatIntervalMs,
    maxStalenessMs: config.cluster.maxStalenessMs,
    logger: w.logger,
    now: w.now,
  });
  // A revocation is announced in the transaction that writes it: no node can miss one that committed.
  w.revocations.addWriteHook((trx, row) => node.publishRevocation(trx, row));
  const reports = startNodeReports({
    db: store.db,
    nodeId: w.nodeId,
    role: w.role,
    freshness: () => node.freshness(),
    intervalMs: config.cluster.reportIntervalMs,
    now: w.now,
    logger: w.logger,
  });
  return {
    node,
    async close() {
      await reports.stop();
      await node.close();
    },
  };
}
