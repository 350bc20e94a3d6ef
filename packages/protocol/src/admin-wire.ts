/**
 * What the admin API answers, as the operator console reads it: the wire shapes of its agents, tasks, audit events,
 * grants, resources, secrets, approvals and overview, and of a node's checks (`/readyz`). The server's views are
 * checked against these when it compiles (its admin-api/wire-conformance.ts, and the overview's `satisfies`), so the
 * console and the server cannot drift apart unnoticed. Only the members a reader relies on are named; the server may
 * send more.
 */

export interface AdminAgent {
  id: string;
  name: string;
  owner: string;
  kind: string;
  status: 'active' | 'pending' | 'suspended' | 'offboarded';
  description: string;
  createdAt: number;
  expiresAt: number | null;
  reviewBy: number | null;
  lastUsedAt: number | null;
  ownerOffboardedAt: number | null;
}

export interface AdminTask {
  id: string;
  parentId: string | null;
  chain: string[];
  userId: string;
  agentId: string;
  resourceId: string;
  purpose: string;
  status: 'active' | 'completed' | 'revoked' | 'expired';
  createdAt: number;
  expiresAt: number;
  endedAt: number | null;
  endReason: string | null;
}

export interface AdminSpawnNode {
  task: string;
  agent: string;
  user: string;
  purpose: string;
  status: string;
  created_at: number;
  spawned: AdminSpawnNode[];
}

/** An audit event as stored and chained; a member the event does not have is absent from the JSON. */
export interface AdminAuditEntry {
  seq: number;
  id: string;
  time: number;
  type: string;
  trace_id: string;
  task_id?: string | undefined;
  agent_id?: string | undefined;
  user_id?: string | undefined;
  actor_chain?: string[] | undefined;
  resource?: string | undefined;
  action?: string | undefined;
  decision?: 'allow' | 'deny' | undefined;
  reason?: string | undefined;
  detail?: string | undefined;
  data?: Record<string, unknown> | undefined;
  prev_hash: string;
  hash: string;
}

export interface AdminTaskChain {
  task_id: string;
  /** The task and its descendants, depth first (each parent before its children, siblings by creation). */
  tasks: AdminTaskChainNode[];
  /** Their events, grouped by task in the order of `tasks`, each group in seq order. */
  events: AdminAuditEntry[];
}

export interface AdminTaskChainNode {
  id: string;
  parent_id: string | null;
  /** 0 for the task asked about, 1 for its children, … */
  depth: number;
  user_id: string;
  agent_id: string;
  resource_id: string;
  purpose: string;
  status: string;
  created_at: number;
}

export interface AdminGrant {
  id: string;
  description: string;
  policy: string;
  enabled: boolean;
  mode: 'enforce' | 'observe';
  createdAt: number;
  updatedAt: number;
}

export interface AdminResource {
  id: string;
  kind: 'http' | 'mcp';
  baseUrl: string;
  secretId: string | null;
  inject: { mode: string } | null;
  description: string;
  createdAt: number;
}

export interface AdminSecret {
  id: string;
  kind: string;
  description: string;
  current_version: number;
  created_at: number;
  updated_at: number;
}

export interface AdminApproval {
  id: string;
  status: string;
  taskId: string;
  agentId: string;
  userId: string;
  resourceId: string;
  call: { action: string; target: string; purpose: string; actorChain: string[]; arguments: unknown };
  approvers: string[];
  policies: string[];
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  reason: string | null;
  usedAt: number | null;
  /** The arguments cannot be read with the KEKs the node holds: it may be denied, not approved. */
  argumentsUnreadable?: true;
}

export interface AdminOverview {
  time: number;
  tasks: { active: number };
  approvals: { pending: number };
  calls: Array<{ minute: number; allowed: number; denied: number }>;
  node: {
    ready: boolean;
    revocation: NodeChecks['revocation'];
    upstreams: NodeChecks['upstreams'];
    cluster: NodeChecks['cluster'];
  };
  /** Every cluster node as it last reported; null on the embedded store. */
  nodes: AdminNodeReport[] | null;
}

/** A cluster node's revocation freshness as it last wrote it to the shared store. */
export interface AdminNodeReport {
  nodeId: string;
  role: string;
  state: string;
  lagMs: number | null;
  lastSeq: number;
  logSeq: number;
  reportedAt: number;
  /** No report for three intervals: the node is down, partitioned from the store, or gone. */
  silent: boolean;
}

export interface AdminObserveReport {
  since: number;
  until: number;
  /** Records read; `truncated` when there were more than the report reads. */
  records: number;
  truncated: boolean;
  rows: AdminObserveReportRow[];
}

/** Per grant, resource and action: calls the observed grant would have decided otherwise. */
export interface AdminObserveReportRow {
  grant: string;
  resource: string;
  action: string;
  /** Denied now; the observed grant would allow them. */
  wouldAllow: number;
  /** Allowed now; the observed grant would deny them. */
  wouldDeny: number;
  lastSeen: number;
}

/** What `/readyz` and the admin overview show of this node; each member's shape is stable for dashboards. */
export interface NodeChecks {
  store: string;
  audit: 'ok' | 'backlogged';
  revocation: {
    mode: string;
    state: string;
    last_seq: number;
    log_seq: number;
    lag_ms: number | null;
    entries: number;
    max_staleness_ms?: number;
    confirmed_at?: string | null;
    connected?: boolean;
    reason?: string;
  };
  cluster: { role: string; node_id: string };
  mcp: { sessions: number; sessionless: number };
  revocation_feed: { clients: number };
  upstreams: {
    state: 'ok' | 'saturated';
    saturated: string[];
    resources: Record<string, { in_use: number; limit: number; refused: Record<string, number> }>;
  };
}
