export { ClusterNode } from './cluster-node.js';
export type { ClusterNodeDeps, ClusterRole, Freshness, FreshnessState } from './cluster-node.js';
export { channelsFor } from './channels.js';
export type { ChangeKind } from './channels.js';
