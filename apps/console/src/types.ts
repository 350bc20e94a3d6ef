/** The admin API's answers, as far as the console reads them (the OpenAPI document at /admin/v1/openapi.json has all). */

export interface Agent {
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

export interface Task {
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

export interface SpawnNode {
  task: string;
  agent: string;
  user: string;
  purpose: string;
  status: string;
  created_at: number;
  spawned: SpawnNode[];
}

export interface AuditEntry {
  seq: number;
  id: string;
  time: number;
  type: string;
  trace_id: string;
  task_id?: string | null;
  agent_id?: string | null;
  user_id?: string | null;
  actor_chain?: string[];
  resource?: string;
  action?: string;
  decision?: 'allow' | 'deny';
  reason?: string;
  detail?: string;
  data?: Record<string, unknown>;
  hash: string;
}

export interface TaskChain {
  task_id: string;
  tasks: Array<{
    id: string;
    parent_id: string | null;
    depth: number;
    user_id: string;
    agent_id: string;
    resource_id: string;
    purpose: string;
    status: string;
    created_at: number;
  }>;
  events: AuditEntry[];
}

export interface Grant {
  id: string;
  description: string;
  policy: string;
  enabled: boolean;
  mode: 'enforce' | 'observe';
  createdAt: number;
  updatedAt: number;
}

export interface Resource {
  id: string;
  kind: 'http' | 'mcp';
  baseUrl: string;
  secretId: string | null;
  inject: { mode: string } | null;
  description: string;
  createdAt: number;
}

export interface Secret {
  id: string;
  kind: string;
  description: string;
  current_version: number;
  created_at: number;
  updated_at: number;
}

export interface Approval {
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

export interface Overview {
  time: number;
  tasks: { active: number };
  approvals: { pending: number };
  calls: Array<{ minute: number; allowed: number; denied: number }>;
  node: {
    ready: boolean;
    revocation: {
      mode: string;
      state: string;
      last_seq: number;
      log_seq: number;
      lag_ms: number | null;
      max_staleness_ms?: number;
      connected?: boolean;
      reason?: string;
    };
    upstreams: {
      state: string;
      saturated: string[];
      resources: Record<string, { in_use: number; limit: number; refused: Record<string, number> }>;
    };
    cluster: { role: string; node_id: string };
  };
  /** Every cluster node as it last reported; null on the embedded store. */
  nodes: Array<{
    nodeId: string;
    role: string;
    state: string;
    lagMs: number | null;
    lastSeq: number;
    logSeq: number;
    reportedAt: number;
    silent: boolean;
  }> | null;
}

export interface ObserveReport {
  since: number;
  until: number;
  records: number;
  truncated: boolean;
  rows: Array<Record<string, unknown>>;
}
