/**
 * `/readyz`: whether this node can vouch for what it answers — its store answers (within a bound: a partitioned
 * database must make readiness say "no", not hang the probe), its audit writer keeps up, and its revocation state is
 * current — with the numbers behind each answer.
 */
import type { NodeChecks } from '@writ/protocol';
import type { Freshness } from '../cluster/index.js';

export interface ReadinessDeps {
  /** A cheap query on the store; rejects when the store does not answer. */
  ping(): Promise<unknown>;
  auditHealthy(): boolean;
  /** This node's freshness in a cluster; undefined on the embedded store, where one process holds the whole log. */
  freshness(): Freshness | undefined;
  revocations: { lastSeq: number; size: number };
  cluster: { role: string; nodeId: string };
  mcpSessions(): { sessions: number; sessionless: number };
  feedClients(): number;
  /** Upstream exchanges held, per resource (gateway/upstream-budget.ts). */
  upstreams(): Record<string, { inUse: number; limit: number; saturated: boolean; refused: Record<string, number> }>;
}

export type Readiness = () => Promise<{ ready: boolean; checks: NodeChecks }>;

const STORE_TIMEOUT_MS = 2_000;

export function createReadiness(deps: ReadinessDeps): Readiness {
  return async () => {
    let ready = true;
    let store = 'ok';
    try {
      await withTimeout(deps.ping(), STORE_TIMEOUT_MS, `no answer within ${STORE_TIMEOUT_MS / 1000} s`);
    } catch (err) {
      ready = false;
      store = `unreachable: ${(err as Error).message}`;
    }
    const auditOk = deps.auditHealthy();
    if (!auditOk) ready = false;
    const f = deps.freshness();
    const set = deps.revocations;
    let revocation: NodeChecks['revocation'];
    if (f === undefined)
      revocation = {
        mode: 'embedded',
        state: 'current',
        last_seq: set.lastSeq,
        log_seq: set.lastSeq,
        lag_ms: 0,
        entries: set.size,
      };
    else {
      revocation = {
        mode: f.mode,
        state: f.state,
        last_seq: f.lastSeq,
        log_seq: f.logSeq,
        lag_ms: f.lagMs,
        max_staleness_ms: f.maxStalenessMs,
        confirmed_at: f.confirmedAt === null ? null : new Date(f.confirmedAt).toISOString(),
        connected: f.connected,
        entries: set.size,
        ...(f.current ? {} : { reason: f.lastError ?? 'no confirmation from the revocation log within the bound' }),
      };
      if (!f.current) ready = false;
    }
    // Shown, not a reason to be unready: one saturated upstream must not take the node out of service for every
    // other resource (its own callers are refused at once with ERR_UPSTREAM_SATURATED and Retry-After).
    const upstreams = deps.upstreams();
    const saturated = Object.keys(upstreams).filter((id) => upstreams[id]?.saturated === true);
    const checks: NodeChecks = {
      store,
      audit: auditOk ? 'ok' : 'backlogged',
      revocation,
      cluster: { role: deps.cluster.role, node_id: deps.cluster.nodeId },
      mcp: deps.mcpSessions(),
      revocation_feed: { clients: deps.feedClients() },
      upstreams: {
        state: saturated.length === 0 ? 'ok' : 'saturated',
        saturated,
        resources: Object.fromEntries(
          Object.entries(upstreams).map(([id, u]) => [id, { in_use: u.inUse, limit: u.limit, refused: u.refused }]),
        ),
      },
    };
    return { ready, checks };
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
