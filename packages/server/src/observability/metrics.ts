/**
 * Prometheus metrics (`GET /metrics`, text exposition format): what an operator watches — decisions at the
 * enforcement points by reason, the revocation state this node enforces (the kill switch's reach as numbers), open
 * MCP sessions. Labels are coarse on purpose (gateway, decision, stable reason code): never an agent, user or task,
 * which would make the metric an identity log and its cardinality unbounded. Gauges read live state at scrape time,
 * so the per-call path pays one counter increment.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  /** `lagMs`: time since the node last confirmed it holds the whole log (0 on the embedded store, -1 before the first). */
  revocation(): { lastSeq: number; entries: number; lagMs: number; current: boolean };
  mcpSessions(): { sessions: number; sessionless: number };
  revocationFeedClients(): number;
  /** Upstream exchanges held and refused, per resource (gateway/upstream-budget.ts). */
  upstreams(): Record<string, { inUse: number; limit: number }>;
}

export interface WritMetrics {
  readonly registry: Registry;
  /** One call decided at a gateway: `http` or `mcp`, allow/deny, the stable reason code. */
  decided(gateway: 'http' | 'mcp', decision: 'allow' | 'deny', reason: string): void;
  /** An upstream exchange refused by a bound: the task's share, the agent's, or the resource's total. */
  upstreamRefused(resource: string, scope: 'task' | 'agent' | 'resource'): void;
}

export function createMetrics(sources: MetricsSources): WritMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'writ_process_' });
  const calls = new Counter({
    name: 'writ_gateway_decisions_total',
    help: 'Calls decided at the gateways, by gateway, decision and stable reason code',
    labelNames: ['gateway', 'decision', 'reason'] as const,
    registers: [registry],
  });
  const upstreamRefused = new Counter({
    name: 'writ_upstream_refused_total',
    help: 'Upstream exchanges refused at once, by resource and the bound that refused them (task, agent or resource)',
    labelNames: ['resource', 'scope'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'writ_revocation_last_seq',
    help: 'Highest revocation log sequence this node has applied',
    registers: [registry],
    collect() {
      this.set(sources.revocation().lastSeq);
    },
  });
  new Gauge({
    name: 'writ_revocation_lag_ms',
    help: 'Milliseconds since this node last confirmed it holds every entry of the revocation log (-1: not yet)',
    registers: [registry],
    collect() {
      this.set(sources.revocation().lagMs);
    },
  });
  new Gauge({
    name: 'writ_revocation_current',
    help: '1 while this node serves calls (revocation state confirmed within the bound), 0 while it refuses them',
    registers: [registry],
    collect() {
      this.set(sources.revocation().current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'writ_revocation_entries',
    help: 'Revocations in force in this node (each still able to hit a live token)',
    registers: [registry],
    collect() {
      this.set(sources.revocation().entries);
    },
  });
  new Gauge({
    name: 'writ_mcp_sessions',
    help: 'Open MCP sessions: opened by agents, or held by Writ for sessionless (2026-07-28) agents',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const s = sources.mcpSessions();
      this.set({ kind: 'session' }, s.sessions);
      this.set({ kind: 'sessionless' }, s.sessionless);
    },
  });
  new Gauge({
    name: 'writ_upstream_in_use',
    help: 'Exchanges held open with a resource upstream (calls in flight, MCP requests waiting, MCP streams)',
    labelNames: ['resource'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [resource, u] of Object.entries(sources.upstreams())) this.set({ resource }, u.inUse);
    },
  });
  new Gauge({
    name: 'writ_upstream_saturation',
    help: 'Share of a resource upstream in use (1: every new exchange is refused with ERR_UPSTREAM_SATURATED)',
    labelNames: ['resource'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [resource, u] of Object.entries(sources.upstreams())) this.set({ resource }, u.inUse / u.limit);
    },
  });
  new Gauge({
    name: 'writ_revocation_feed_clients',
    help: 'Verifiers following the revocation feed',
    registers: [registry],
    collect() {
      this.set(sources.revocationFeedClients());
    },
  });
  return {
    registry,
    decided: (gateway, decision, reason) => calls.inc({ gateway, decision, reason }),
    upstreamRefused: (resource, scope) => upstreamRefused.inc({ resource, scope }),
  };
}
