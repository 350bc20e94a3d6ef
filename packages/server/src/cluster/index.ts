export { ClusterNode } from './cluster-node.js';
export type { ClusterNodeDeps, ClusterRole, Freshness, FreshnessState } from './cluster-node.js';
export { channelsFor } from './channels.js';
export type { ChangeKind } from './channels.js';
export { startNodeReports, readNodeReports } from './node-reports.js';
export type { NodeReport, NodeReportsDeps } from './node-reports.js';
