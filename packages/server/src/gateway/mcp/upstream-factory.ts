/**
 * Opens the upstream connection for one agent session of an MCP resource: Streamable HTTP to a URL (with the
 * vault's credential injected per message), a stdio server spawned for this session alone (its state — a
 * filesystem server's roots, say — is never shared with another agent), or an HTTP server Writ runs itself on
 * loopback, one process per resource whose sessions the server keeps apart. Several upstreams make a composite.
 */
import { Agent as UndiciAgent, type Dispatcher } from 'undici';
import type { EgressGuard } from '../../http/index.js';
import type { McpUpstreamConfig, Resource } from '../../register/index.js';
import { WritError } from '@writ/protocol';
import { applyInjection, VaultError, type CallPrincipal, type UpstreamCredentials } from '../../vault/index.js';
import type { Logger } from '../../observability/index.js';
import { HttpUpstream } from './upstream/http-upstream.js';
import { LoopbackHttpProcess, StdioUpstream, UpstreamError, type UpstreamConnection } from './upstream/index.js';
import { CompositeUpstream } from './composite-upstream.js';
import { ScrubbedConnection } from './upstream/scrubbed-connection.js';

/** A credential came back in an upstream's message and was replaced (for the `secret.scrubbed` audit record). */
export interface ScrubbedMessage {
  resourceId: string;
  principal: CallPrincipal | undefined;
  secrets: string[];
  /** The JSON-RPC method of the message, when it had one (an answer has none). */
  method: string | undefined;
}

export interface UpstreamFactoryDeps {
  /** The vault's answer to "what do I inject for this session", whatever kind of secret is behind it. */
  credentials: UpstreamCredentials;
  /** An injected credential came back in a message and was replaced before the session saw it. */
  scrubbed(event: ScrubbedMessage): void;
  timeoutMs: number;
  maxMessageBytes: number;
  /** Where connections to upstreams registered by URL may go (http/egress-guard.ts). */
  egress: EgressGuard;
  logger: Logger;
}

export class UpstreamFactory {
  readonly #deps: UpstreamFactoryDeps;
  /**
   * For upstreams registered by URL: every connection passes the egress guard. No connection bound of its own (a
   * bound here would queue, and a queue is where one agent's streams made every other agent wait): what may be held
   * at once is bounded above it, per resource, agent and task, by the gateway's upstream budget, and every exchange
   * carries its own timeout (http-upstream.ts).
   */
  readonly #dispatcher: Dispatcher;
  /** For the HTTP servers Writ runs itself on loopback: Writ's own children, not a URL anyone registered. */
  readonly #loopback = new UndiciAgent({ keepAliveTimeout: 30_000, connect: { timeout: 10_000 } });
  /** Running HTTP servers Writ started, by resource id and upstream name; started on first use. */
  readonly #processes = new Map<string, Promise<LoopbackHttpProcess>>();

  constructor(deps: UpstreamFactoryDeps) {
    this.#deps = deps;
    this.#dispatcher = deps.egress.agent({ keepAliveTimeout: 30_000, connectTimeout: 10_000 });
  }

  /**
   * `principal` is who the session works for (a credential may be theirs alone); the gateway's own connections
   * (listing a resource's tools for a consent page) have none.
   */
  async connect(resource: Resource, principal?: CallPrincipal): Promise<UpstreamConnection> {
    const upstreams = resource.mcp?.upstreams ?? [];
    if (upstreams.length === 0) throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `resource ${resource.id} has no upstream`);
    if (upstreams.length === 1) return this.#connectOne(resource, upstreams[0] as McpUpstreamConfig, principal);
    const parts = await Promise.all(
      upstreams.map(async (u) => ({ name: u.name, connection: await this.#connectOne(resource, u, principal) })),
    );
    return new CompositeUpstream(parts, this.#deps.logger.child({ resource: resource.id }));
  }

  /** A resource changed or was deleted: stop the servers Writ ran for it (the next session starts them anew). */
  invalidate(resourceId: string): void {
    for (const [key, p] of this.#processes) {
      if (!key.startsWith(`${resourceId}\0`)) continue;
      this.#processes.delete(key);
      void p.then((proc) => proc.close()).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const procs = [...this.#processes.values()];
    this.#processes.clear();
    await Promise.all(procs.map((p) => p.then((proc) => proc.close()).catch(() => undefined)));
    await Promise.all([this.#dispatcher.close(), this.#loopback.close()]);
  }

  async #connectOne(resource: Resource, u: McpUpstreamConfig, principal: CallPrincipal | undefined): Promise<UpstreamConnection> {
    const logger = this.#deps.logger.child({ resource: resource.id, upstream: u.name });
    if (u.transport === 'http') return this.#http(resource, u.url, this.#dispatcher, logger, principal);
    if (u.transport === 'stdio') {
      const s = new StdioUpstream({
        resourceId: resource.id,
        command: u.command,
        args: u.args,
        env: u.env,
        ...(u.cwd !== undefined ? { cwd: u.cwd } : {}),
        logger,
        maxLineBytes: this.#deps.maxMessageBytes,
      });
      await s.start().catch((err: unknown) => {
        throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `could not start ${u.name}: ${String(err)}`);
      });
      return s;
    }
    const key = `${resource.id}\0${u.name}`;
    let proc = this.#processes.get(key);
    if (proc === undefined) {
      proc = LoopbackHttpProcess.start({
        resourceId: resource.id,
        args: u.args,
        env: u.env,
        ...(u.cwd !== undefined ? { cwd: u.cwd } : {}),
        path: u.path,
        portEnv: u.portEnv,
        logger,
      });
      this.#processes.set(key, proc);
      // A server that could not start is forgotten, so the next session tries again.
      proc.catch(() => this.#processes.delete(key));
    }
    const running = await proc.catch((err: unknown) => {
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `could not start ${u.name}: ${String(err)}`);
    });
    return this.#http(resource, running.url, this.#loopback, logger, principal);
  }

  #http(resource: Resource, url: string, dispatcher: Dispatcher, logger: Logger, principal: CallPrincipal | undefined): UpstreamConnection {
    const deps = this.#deps;
    const { inject, secretId } = resource;
    const upstream = new HttpUpstream({
      url,
      dispatcher,
      timeoutMs: deps.timeoutMs,
      maxMessageBytes: deps.maxMessageBytes,
      logger,
      credential: async () => {
        const headers: Record<string, string> = {};
        const query = new URLSearchParams();
        let rejected: (() => void) | undefined;
        if (inject !== null && secretId !== null) {
          try {
            const ask = inject.mode === 'bearer' || inject.mode === 'header' ? inject.mint : undefined;
            const credential = await deps.credentials.forCall(secretId, principal ?? NO_PRINCIPAL, ask);
            // Runs on send, after `scrubbed` below is set: a credential is only fetched for a message.
            scrubbed?.injected(credential.scrubber);
            applyInjection(inject, credential.value, { headers, searchParams: query }, credential.username);
            rejected = credential.rejected;
          } catch (err) {
            // A credential that could not be minted, read or put on the request: the message is not sent, and the
            // agent is told why (the JSON-RPC error's data.code).
            if (err instanceof WritError && err.code === 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED')
              throw new UpstreamError(err.code, err.detail ?? err.code, err.hint);
            if (err instanceof WritError) throw new UpstreamError('ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE', err.detail ?? err.code);
            if (err instanceof VaultError) throw new UpstreamError('ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE', `${err.code}: ${err.message}`);
            throw err;
          }
        }
        return { headers, query, rejected };
      },
    });
    if (inject === null || secretId === null) return upstream;
    const scrubbed: ScrubbedConnection | undefined = new ScrubbedConnection(upstream, (secrets, m) =>
      deps.scrubbed({
        resourceId: resource.id,
        principal,
        secrets,
        method: typeof m['method'] === 'string' ? m['method'] : undefined,
      }),
    );
    return scrubbed;
  }
}

/** The gateway's own connections act for nobody: a credential that belongs to a user is not available to them. */
const NO_PRINCIPAL: CallPrincipal = { userId: '', agentId: '', taskId: '' };
