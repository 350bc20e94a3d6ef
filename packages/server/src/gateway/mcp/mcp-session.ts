/**
 * One agent's MCP session through the gateway, relayed over its own upstream connection. The session is bound to
 * the task, the agent and the DPoP key that opened it (MCP authorization: session ids are never authentication, and
 * every request is authenticated anyway); a request whose token names another task or key does not find it.
 *
 * Request ids are rewritten: each request the agent sends goes upstream under an id of the gateway's own, so the
 * gateway's own requests (the upstream's tool list) can never collide with an agent's, and an answer reaches exactly
 * the request that asked. Messages the upstream starts (notifications, its own requests) go to the agent's GET
 * stream, or to a request stream that is still open.
 */
import { ERROR_CODES, type TaskTokenClaims } from '@writ/protocol';
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../../crypto/index.js';
import type { Logger } from '../../observability/index.js';
import { RPC, rpcError, type JsonRpcId } from '../../errors/index.js';
import { rpcResult } from './json-rpc.js';
import type { SseWriter } from './sse.js';
import { UpstreamError, type JsonRpcMessage, type UpstreamConnection } from './upstream/upstream-connection.js';

export interface SessionBinding {
  resourceId: string;
  taskId: string;
  clientId: string;
  /** The DPoP key's thumbprint; null for a bearer session. */
  jkt: string | null;
}

interface Pending {
  agentId: JsonRpcId | null;
  progressToken: unknown;
  deliver(message: JsonRpcMessage): void;
}

/** Server-to-client requests the gateway relays to the agent, by the capability the agent must have declared. */
const RELAYED_SERVER_REQUESTS: Readonly<Record<string, string>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
};

const TOOLS_CHANGED: JsonRpcMessage = { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };

export class McpSession {
  readonly id: string;
  /** What the audit log records instead of the id (a bearer-like handle): a digest, computed once. */
  readonly tag: string;
  readonly binding: SessionBinding;
  readonly upstream: UpstreamConnection;
  protocolVersion = '2025-03-26';
  clientCapabilities: Record<string, unknown> = {};
  /** The upstream's InitializeResult (capabilities, serverInfo, instructions). */
  serverInitialize: Record<string, unknown> | undefined;
  /** Tool names the upstream listed; undefined until known (and again after `tools/list_changed`). */
  knownTools: Set<string> | undefined;
  lastUsed: number;
  /** Claims of the token that last used the session: what a revocation is checked against. */
  claims: TaskTokenClaims | undefined;
  #getStream: SseWriter | undefined;
  /** What the agent's GET stream holds of the upstream's share (upstream-budget.ts), given back when it ends. */
  #getStreamLease: { release(): void } | undefined;
  readonly #pending = new Map<string, Pending>();
  readonly #serverRequests = new Set<JsonRpcId>();
  #next = 0;
  #closed = false;
  /** A tool list change of Writ's own that found no open agent stream. */
  #toolsChangedUnsent = false;
  readonly #logger: Logger;
  onClose: (() => void) | undefined;

  readonly #requestTimeoutMs: number;

  constructor(id: string, binding: SessionBinding, upstream: UpstreamConnection, logger: Logger, now: number, requestTimeoutMs = 60_000) {
    this.#requestTimeoutMs = requestTimeoutMs;
    this.id = id;
    this.tag = sha256Hex(id).slice(0, 16);
    this.binding = binding;
    this.upstream = upstream;
    this.lastUsed = now;
    this.#logger = logger;
    upstream.onMessage = (m) => this.#fromUpstream(m);
    upstream.onClose = (reason) => {
      this.#logger.info({ session: id, reason }, 'mcp upstream connection closed');
      void this.close();
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A GET stream is open: only one at a time, as the SDK's own server does. */
  get getStreamOpen(): boolean {
    return this.#getStream?.open === true;
  }

  /** An exchange with the upstream is pending: an agent request (or the gateway's own) waits for its answer. */
  get busy(): boolean {
    return this.#pending.size > 0;
  }

  /**
   * Binds the agent's GET stream (the caller has checked that none is open) and, for as long as it stays open, the
   * upstream's own: a session nobody listens to holds no upstream stream.
   */
  attachGetStream(stream: SseWriter, lease: { release(): void }): void {
    this.#getStream = stream;
    this.#getStreamLease = lease;
    this.upstream.listen?.(true);
    if (this.#toolsChangedUnsent) {
      this.#toolsChangedUnsent = false;
      stream.send(TOOLS_CHANGED);
    }
  }

  /** The agent's GET stream ended: the upstream's stream and its lease go with it. */
  detachGetStream(stream: SseWriter): void {
    if (this.#getStream !== stream) return;
    this.#getStream = undefined;
    this.#getStreamLease?.release();
    this.#getStreamLease = undefined;
    if (!this.#closed) this.upstream.listen?.(false);
  }

  /**
   * Sends an agent's request upstream and resolves with the upstream's answer (id restored). Related progress
   * notifications go to `related` while it waits.
   */
  request(
    message: JsonRpcMessage,
    agentId: JsonRpcId | null,
    traceparent: string,
    related: (m: JsonRpcMessage) => void,
  ): Promise<JsonRpcMessage> {
    const gatewayId = `writ-${++this.#next}`;
    const params = message['params'] as { _meta?: { progressToken?: unknown } } | undefined;
    return new Promise<JsonRpcMessage>((resolve) => {
      // An upstream that neither answers nor reports progress for this long is given up on (and told so), so no
      // agent request waits forever; progress restarts the clock, as the MCP SDK's own timeout does.
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (!this.#pending.delete(gatewayId)) return;
          const cancel = {
            jsonrpc: '2.0' as const,
            method: 'notifications/cancelled',
            params: { requestId: gatewayId, reason: 'timed out at the gateway' },
          };
          void this.upstream.send(cancel, { traceparent }).catch(() => undefined);
          this.upstream.abandon?.(gatewayId);
          resolve(rpcError(agentId, RPC.requestTimeout, 'upstream timed out', { code: 'ERR_UPSTREAM_TIMEOUT' }));
        }, this.#requestTimeoutMs);
        timer.unref();
      };
      arm();
      this.#pending.set(gatewayId, {
        agentId,
        progressToken: params?._meta?.progressToken,
        deliver: (m) => {
          if (m['method'] !== undefined) {
            if (m['method'] === 'notifications/progress') arm();
            related(m);
            return;
          }
          clearTimeout(timer);
          this.#pending.delete(gatewayId);
          resolve({ ...m, id: agentId });
        },
      });
      this.upstream.send({ ...message, id: gatewayId }, { traceparent }).catch((err: unknown) => {
        clearTimeout(timer);
        this.#pending.delete(gatewayId);
        const code = err instanceof UpstreamError ? err.code : 'ERR_UPSTREAM_UNAVAILABLE';
        const connectUrl = err instanceof UpstreamError ? err.hint?.connect_url : undefined;
        if (code === 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED' && connectUrl !== undefined) {
          resolve(this.#notConnected(agentId, connectUrl));
          return;
        }
        // The enforcement error's own message (`upstream timed out`, `upstream unavailable` …), never the detail.
        resolve(rpcError(agentId, RPC.internalError, ERROR_CODES[code].message, { code }));
      });
    });
  }

  /** The gateway's own request upstream (no agent id); rejects on a JSON-RPC error. */
  async ownRequest(method: string, params: Record<string, unknown>, traceparent: string): Promise<Record<string, unknown>> {
    const answer = await this.request({ jsonrpc: '2.0', method, params }, null, traceparent, () => undefined);
    const result = answer['result'];
    if (typeof result !== 'object' || result === null) throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `${method} failed upstream`);
    return result as Record<string, unknown>;
  }

  /**
   * The person must connect their account at the upstream first. A client that takes URL-mode elicitation (MCP
   * 2025-11-25) gets the `URLElicitationRequiredError` (-32042), so it can open the connect page for them; any other
   * gets the code and `connect_url` in the error's data.
   */
  #notConnected(agentId: JsonRpcId | null, connectUrl: string): JsonRpcMessage {
    return this.askToOpen(
      agentId,
      connectUrl,
      'Connect your account at this upstream, then try again.',
      rpcError(agentId, RPC.forbidden, ERROR_CODES.ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED.message, {
        code: 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED',
        connect_url: connectUrl,
      }),
    );
  }

  /**
   * A person must open a page of Writ's before the request can succeed (connect an account, approve the call): a
   * client that takes URL-mode elicitation gets `URLElicitationRequiredError` (-32042) naming it; any other gets
   * `otherwise`, which carries the code and the URL in its data.
   */
  askToOpen(agentId: JsonRpcId | null, url: string, message: string, otherwise: JsonRpcMessage): JsonRpcMessage {
    const elicitation = this.clientCapabilities['elicitation'] as { url?: unknown } | undefined;
    if (elicitation === undefined || elicitation.url === undefined) return otherwise;
    return rpcError(agentId, RPC.urlElicitationRequired, message, {
      elicitations: [{ mode: 'url', elicitationId: randomUUID(), url, message }],
    });
  }

  /** Maps an agent's `notifications/cancelled` to the gateway id the upstream knows; undefined when nothing is pending. */
  cancelledFor(requestId: unknown): JsonRpcMessage | undefined {
    for (const [gid, p] of this.#pending) {
      if (p.agentId !== null && p.agentId === requestId) {
        return { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: gid } };
      }
    }
    return undefined;
  }

  /** Adds the tools of a `tools/list` answer the agent asked for to what the upstream is known to list. */
  rememberTools(items: Record<string, unknown>[] | undefined): void {
    if (items === undefined) return;
    const known = this.knownTools ?? new Set<string>();
    for (const t of items) if (typeof t?.['name'] === 'string') known.add(t['name']);
    this.knownTools = known;
  }

  /** Accepts the agent's answer to a request the upstream made, once. */
  takeServerRequest(id: JsonRpcId): boolean {
    return this.#serverRequests.delete(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [gid, p] of this.#pending) {
      this.#pending.delete(gid);
      p.deliver(rpcError(null, RPC.internalError, 'session closed'));
    }
    const stream = this.#getStream;
    if (stream !== undefined) {
      stream.end();
      this.detachGetStream(stream);
    }
    this.onClose?.();
    await this.upstream.close();
  }

  #fromUpstream(m: JsonRpcMessage): void {
    const method = m['method'];
    const id = m['id'];
    if (typeof method !== 'string') {
      const p = typeof id === 'string' ? this.#pending.get(id) : undefined;
      if (p !== undefined) p.deliver(m);
      return;
    }
    if (id !== undefined && id !== null) {
      this.#serverRequest(method, id as JsonRpcId, m);
      return;
    }
    if (method === 'notifications/tools/list_changed') this.knownTools = undefined;
    if (method === 'notifications/progress') {
      const token = (m['params'] as { progressToken?: unknown } | undefined)?.progressToken;
      for (const p of this.#pending.values()) {
        if (p.progressToken !== undefined && p.progressToken === token) {
          p.deliver(m);
          return;
        }
      }
      return;
    }
    this.#toAgent(m);
  }

  #serverRequest(method: string, id: JsonRpcId, m: JsonRpcMessage): void {
    const traceparent = '';
    if (method === 'ping') {
      void this.upstream.send(rpcResult(id, {}), { traceparent }).catch(() => undefined);
      return;
    }
    const capability = RELAYED_SERVER_REQUESTS[method];
    // Roots are never relayed: an agent's roots would widen what a server such as server-filesystem may reach.
    if (capability === undefined || !(capability in this.clientCapabilities) || !this.#toAgent(m)) {
      void this.upstream
        .send(rpcError(id, RPC.methodNotFound, `${method} is not available through the gateway`), { traceparent })
        .catch(() => undefined);
      return;
    }
    this.#serverRequests.add(id);
  }

  /**
   * Tells the agent its tool list changed (a tool was killed or restored at Writ), so it lists again; the list it
   * gets is filtered anew. Forgets the upstream's list too, which is asked again at the next call.
   */
  toolsChanged(): void {
    this.knownTools = undefined;
    // Not lost while the agent has no stream open: it is sent on the next GET stream the agent opens.
    if (!this.#toAgent(TOOLS_CHANGED)) this.#toolsChangedUnsent = true;
  }

  /** To the GET stream, else to a request stream still open; false when the agent cannot be reached. */
  #toAgent(m: JsonRpcMessage): boolean {
    if (this.#getStream?.open === true) {
      this.#getStream.send(m);
      return true;
    }
    const last = [...this.#pending.values()].filter((p) => p.agentId !== null).pop();
    if (last !== undefined) {
      last.deliver(m);
      return true;
    }
    this.#logger.debug({ session: this.id, method: m['method'] }, 'mcp upstream message dropped: no open agent stream');
    return false;
  }
}
