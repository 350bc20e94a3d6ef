/**
 * What the domain modules need from others, described structurally so they depend on no concrete implementation
 * (the composition root wires the real ones).
 */
export interface PolicyPort {
  validate(policyText: string): Promise<{ ok: true; policyCount: number } | { ok: false; errors: string[] }>;
  load(grants: { id: string; text: string }[]): Promise<number>;
}

/** An audit record as the domain modules produce it; the audit writer adds id, time (if absent), seq and hash. */
export interface AuditRecord {
  type: string;
  time?: number;
  trace_id?: string;
  span_id?: string;
  task_id?: string;
  agent_id?: string;
  user_id?: string;
  actor_chain?: string[];
  resource?: string;
  action?: string;
  decision?: 'allow' | 'deny';
  reason?: string;
  detail?: string;
  data?: Record<string, unknown>;
}

export interface AuditPort {
  record(event: AuditRecord): void;
}

export type Clock = () => number;
