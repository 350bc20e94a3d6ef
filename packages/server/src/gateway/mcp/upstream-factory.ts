/**
 * Opens the upstream connection for one agent session of an MCP resource: Streamable HTTP to a URL (with the
 * vault's credential injected per message), a stdio server spawned for the session, or an HTTP server Writ runs
 * itself on loopback (one process per resource, shared by its sessions, which the server keeps apart).
 */
import { Agent as UndiciAgent } from 'undici';
import type { McpUpstreamConfig, Resource } from '../../register/index.js';
import { applyInjection, type SecretValue } from '../../vault/index.js';
import type { Logger } from '../../observability/index.js';
import { HttpUpstream } from './upstream/http-upstream.js';
import { UpstreamError, type UpstreamConnection } from './upstream/upstream-connection.js';

export interface UpstreamFactoryDeps {
  secrets: { get(id: string): SecretValue | Promise<SecretValue> };
  timeoutMs: number;
  maxMessageBytes: number;
  logger: Logger;
}

export class UpstreamFactory {
  readonly #deps: UpstreamFactoryDeps;
  readonly #dispatcher = new UndiciAgent({ connections: 64, keepAliveTimeout: 30_000 });

  constructor(deps: UpstreamFactoryDeps) {
    this.#deps = deps;
  }

  async connect(resource: Resource): Promise<UpstreamConnection> {
    const upstreams = resource.mcp?.upstreams ?? [];
    if (upstreams.length !== 1)
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `resource ${resource.id} has ${upstreams.length} upstreams`);
    return this.#connectOne(resource, upstreams[0] as McpUpstreamConfig);
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  async #connectOne(resource: Resource, u: McpUpstreamConfig): Promise<UpstreamConnection> {
    if (u.transport === 'http') return this.#http(resource, u.url);
    throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `transport ${u.transport} is not available`);
  }

  #http(resource: Resource, url: string): UpstreamConnection {
    const deps = this.#deps;
    return new HttpUpstream({
      url,
      dispatcher: this.#dispatcher,
      timeoutMs: deps.timeoutMs,
      maxMessageBytes: deps.maxMessageBytes,
      logger: deps.logger.child({ resource: resource.id }),
      credential: async () => {
        const headers: Record<string, string> = {};
        const query = new URLSearchParams();
        if (resource.inject !== null && resource.secretId !== null) {
          applyInjection(resource.inject, await deps.secrets.get(resource.secretId), { headers, searchParams: query });
        }
        return { headers, query };
      },
    });
  }
}
