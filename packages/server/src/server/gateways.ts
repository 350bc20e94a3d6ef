/**
 * The composition root's gateway part: the HTTP gateway and the MCP gateway, the upstream connections and servers the
 * MCP one opens, and the one upstream budget both take leases from (how much of a resource's upstream one agent or
 * task may hold at once). Kept apart from writ-server.ts so that file stays the outline of the whole node.
 */
import type { WritConfig } from '../config/index.js';
import type { Server } from 'node:http';
import { EgressGuard } from '../http/index.js';
import type { Logger, WritMetrics } from '../observability/index.js';
import type { UpstreamCredentials } from '../vault/index.js';
import {
  HttpGateway,
  McpGateway,
  UpstreamBudget,
  UpstreamFactory,
  ToolCatalogue,
  createGatewayAudit,
  type GatewayAuditSink,
  type EnforcementDeps,
} from '../gateway/index.js';

/**
 * Where Writ may connect on someone's behalf — the gateways' upstreams, and also Shared Signals pushes and identity
 * providers' keys: what `egress.allow` permits, never `server`, Writ's own listener.
 */
export function egressGuard(config: WritConfig, server: Server): EgressGuard {
  return new EgressGuard({
    allow: config.egress.allow,
    ownListeners: () => {
      const a = server.address();
      return a !== null && typeof a === 'object' ? [{ address: a.address, port: a.port }] : [];
    },
  });
}

export interface GatewayWiring {
  config: WritConfig;
  /** What both gateways need for the per-call check and the call-time grants; each gets its own audit counter. */
  enforcement: Omit<EnforcementDeps, 'audit'>;
  audit: GatewayAuditSink;
  /** What the gateways inject per call (vault/upstream-credentials.ts). */
  credentials: UpstreamCredentials;
  egress: EgressGuard;
  metrics: WritMetrics;
  logger: Logger;
  now: () => number;
  /** What this node's MCP session ids start with (`writ serve --workers`: the worker's slot). */
  sessionIdPrefix?: string;
}

export interface NodeGateways {
  http: HttpGateway;
  mcp: McpGateway;
  budget: UpstreamBudget;
  /** The tools each MCP resource's upstream lists (what a consent page offers). */
  tools: ToolCatalogue;
  /** A resource changed or went: its connection pool and the servers Writ ran for it are dropped. */
  invalidate(resourceId: string): void;
  close(): Promise<void>;
}

export function createGateways(w: GatewayWiring): NodeGateways {
  const { config, enforcement, metrics } = w;
  const budget = new UpstreamBudget(
    {
      total: config.limits.upstreamConnections,
      perAgent: config.limits.upstreamConnectionsPerAgent,
      perTask: config.limits.upstreamConnectionsPerTask,
    },
    (resource, scope) => metrics.upstreamRefused(resource, scope),
  );
  const http = new HttpGateway({
    ...enforcement,
    credentials: w.credentials,
    audit: createGatewayAudit(w.audit, (d, r) => metrics.decided('http', d, r)),
    maxBodyBytes: config.server.maxBodyBytes,
    upstreamTimeoutMs: config.server.upstreamTimeoutMs,
    budget,
    egress: w.egress,
  });
  const mcpAudit = createGatewayAudit(w.audit, (d, r) => metrics.decided('mcp', d, r));
  const upstreams = new UpstreamFactory({
    credentials: w.credentials,
    scrubbed: (e) => mcpAudit.scrubbedMessage(e),
    timeoutMs: config.server.upstreamTimeoutMs,
    maxMessageBytes: config.mcp.maxUpstreamMessageBytes,
    egress: w.egress,
    logger: w.logger,
  });
  const mcp = new McpGateway({
    ...enforcement,
    ...(w.sessionIdPrefix !== undefined ? { sessionIdPrefix: w.sessionIdPrefix } : {}),
    audit: mcpAudit,
    connect: (resource, principal) => upstreams.connect(resource, principal),
    maxBodyBytes: config.server.maxBodyBytes,
    requestTimeoutMs: config.mcp.requestTimeoutSeconds * 1000,
    sessionIdleMs: config.mcp.sessionIdleSeconds * 1000,
    maxSessions: config.mcp.maxSessions,
    maxSessionsPerTask: config.mcp.maxSessionsPerTask,
    maxSessionsPerAgent: config.mcp.maxSessionsPerAgent,
    budget,
    now: w.now,
  });
  const tools = new ToolCatalogue({
    connect: (resource) => upstreams.connect(resource),
    timeoutMs: config.server.upstreamTimeoutMs,
    ttlMs: 60_000,
    now: w.now,
  });
  return {
    http,
    mcp,
    budget,
    tools,
    invalidate: (id) => {
      http.invalidate(id);
      upstreams.invalidate(id);
    },
    // Sessions first (they close their upstream connections), then the connections and servers, then the pools.
    close: async () => {
      await mcp.close();
      await upstreams.close();
      await http.close();
    },
  };
}
