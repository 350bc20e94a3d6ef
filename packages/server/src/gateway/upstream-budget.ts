/**
 * How much of one upstream a single agent or task may hold at once. Every exchange the gateway holds open with an
 * upstream on an agent's behalf — an HTTP call in flight, an MCP request waiting for its answer, an MCP stream the
 * agent listens on — takes a lease here first, counted three ways: the resource's total, the agent's share and the
 * task's share. A lease that would pass any bound is refused at once, before anything is sent upstream, so one agent
 * (or one of its tasks) can fill its own share but never the pool everyone else needs, and nothing ever waits in a
 * queue for a connection that may never come back: the share refusals are 429 (`ERR_UPSTREAM_SHARE_EXCEEDED`, the
 * caller's own doing), the total 503 (`ERR_UPSTREAM_SATURATED`, nobody's), both with `Retry-After`.
 *
 * Counting happens above the transport, so the same bound holds for HTTP resources, Streamable HTTP upstreams and
 * stdio servers alike; the HTTP clients below are sized to the total, so an admitted exchange never queues behind
 * another.
 */
import { WritError } from '@writ/protocol';

export interface UpstreamShares {
  /** Exchanges open with one resource's upstream at once, for all callers together. */
  total: number;
  /** Of those, at most this many for one agent (all its tasks together). */
  perAgent: number;
  /** Of those, at most this many for one task. */
  perTask: number;
}

export interface UpstreamHolder {
  agentId: string;
  taskId: string;
}

/** Which bound refused a lease. */
export type ShareScope = 'task' | 'agent' | 'resource';

export interface UpstreamLease {
  /** Gives the lease back; calling it again does nothing. */
  release(): void;
}

/** One resource's use, as `/readyz` and the metrics show it. */
export interface UpstreamUse {
  inUse: number;
  limit: number;
  saturated: boolean;
  /** Leases refused since start, by the bound that refused them. */
  refused: Record<ShareScope, number>;
}

interface Usage {
  total: number;
  byAgent: Map<string, number>;
  byTask: Map<string, number>;
  refused: Record<ShareScope, number>;
}

export class UpstreamBudget {
  readonly shares: UpstreamShares;
  readonly #usage = new Map<string, Usage>();
  readonly #onRefused: ((resourceId: string, scope: ShareScope) => void) | undefined;

  constructor(shares: UpstreamShares, onRefused?: (resourceId: string, scope: ShareScope) => void) {
    if (shares.perTask > shares.perAgent || shares.perAgent > shares.total)
      throw new RangeError('upstream shares must satisfy perTask ≤ perAgent ≤ total');
    this.shares = shares;
    this.#onRefused = onRefused;
  }

  /** A lease on `resourceId`'s upstream for `holder`, or a WritError saying which bound it would pass. */
  acquire(resourceId: string, holder: UpstreamHolder): UpstreamLease {
    let u = this.#usage.get(resourceId);
    if (u === undefined) {
      u = { total: 0, byAgent: new Map(), byTask: new Map(), refused: { task: 0, agent: 0, resource: 0 } };
      this.#usage.set(resourceId, u);
    }
    const ofTask = u.byTask.get(holder.taskId) ?? 0;
    const ofAgent = u.byAgent.get(holder.agentId) ?? 0;
    // The narrowest bound is named first: a task at its share is told so even when the upstream is also full.
    if (ofTask >= this.shares.perTask) this.#refuse(u, resourceId, 'task', `task ${holder.taskId} holds ${ofTask}`);
    if (ofAgent >= this.shares.perAgent) this.#refuse(u, resourceId, 'agent', `agent ${holder.agentId} holds ${ofAgent}`);
    if (u.total >= this.shares.total) this.#refuse(u, resourceId, 'resource', `${u.total} in use`);
    u.total++;
    u.byTask.set(holder.taskId, ofTask + 1);
    u.byAgent.set(holder.agentId, ofAgent + 1);
    let held = true;
    const usage = u;
    return {
      release: () => {
        if (!held) return;
        held = false;
        usage.total--;
        decrement(usage.byTask, holder.taskId);
        decrement(usage.byAgent, holder.agentId);
      },
    };
  }

  /** Use per resource that has been used since start. */
  snapshot(): Record<string, UpstreamUse> {
    const out: Record<string, UpstreamUse> = {};
    for (const [id, u] of this.#usage)
      out[id] = { inUse: u.total, limit: this.shares.total, saturated: u.total >= this.shares.total, refused: { ...u.refused } };
    return out;
  }

  #refuse(u: Usage, resourceId: string, scope: ShareScope, detail: string): never {
    u.refused[scope]++;
    this.#onRefused?.(resourceId, scope);
    throw new WritError(
      scope === 'resource' ? 'ERR_UPSTREAM_SATURATED' : 'ERR_UPSTREAM_SHARE_EXCEEDED',
      `upstream of ${resourceId}: ${detail} (bound ${scope === 'task' ? this.shares.perTask : scope === 'agent' ? this.shares.perAgent : this.shares.total})`,
    );
  }
}

function decrement(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 1) - 1;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}
