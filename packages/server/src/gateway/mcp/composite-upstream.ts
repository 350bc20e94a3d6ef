/**
 * A composite MCP resource: several upstream servers served to the agent as one. Tool names are namespaced with the
 * upstream's name (`github.create_issue`), so grants and authorization details name a tool unambiguously and
 * `github.*` covers one upstream's tools. `initialize` and `tools/list` are answered from all upstreams together,
 * each `tools/call` goes to its upstream under the tool's own name; what the upstreams send is passed on, their own
 * requests under ids that say which upstream asked. Resources and prompts are not composed (no task may read them
 * through the gateway yet), so other methods are answered "method not found".
 */
import type { Logger } from '../../observability/index.js';
import { RPC, rpcError } from '../../errors/index.js';
import type { JsonRpcMessage, UpstreamConnection, UpstreamSendContext } from './upstream/upstream-connection.js';

export interface CompositePart {
  name: string;
  connection: UpstreamConnection;
}

const MAX_PAGES = 20;
const SEPARATOR = '.';

export class CompositeUpstream implements UpstreamConnection {
  onMessage: ((message: JsonRpcMessage) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  readonly #parts: CompositePart[];
  readonly #logger: Logger;
  /** Answers the composite waits for itself, by part index and inner id. */
  readonly #waiting = new Map<string, (m: JsonRpcMessage) => void>();
  /** Which part a relayed tools/call went to, by its id (for cancellation). */
  readonly #callPart = new Map<unknown, number>();
  /** Server requests relayed to the agent: outer id → part and the part's own id. */
  readonly #serverRequests = new Map<string, { part: number; id: unknown }>();
  #next = 0;
  #closed = false;

  constructor(parts: CompositePart[], logger: Logger) {
    this.#parts = parts;
    this.#logger = logger;
    parts.forEach((p, i) => {
      p.connection.onMessage = (m) => this.#fromPart(i, m);
      p.connection.onClose = (reason) => {
        void this.close().then(() => undefined);
        this.#logger.info({ upstream: p.name, reason }, 'composite part closed');
      };
    });
  }

  async send(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    const method = message['method'];
    const id = message['id'];
    if (typeof method !== 'string') return this.#answerServerRequest(message, context);
    if (id === undefined) return this.#notify(method, message, context);
    switch (method) {
      case 'initialize':
        void this.#initialize(message, context);
        return;
      case 'tools/list':
        void this.#listTools(message, context);
        return;
      case 'tools/call':
        return this.#callTool(message, context);
      case 'ping':
      case 'logging/setLevel':
        void this.#everywhere(message, context);
        return;
      default:
        this.#deliver(rpcError(id as string, RPC.methodNotFound, `${method} is not available on a composite resource`));
    }
  }

  listen(on: boolean): void {
    for (const p of this.#parts) p.connection.listen?.(on);
  }

  abandon(id: string): void {
    const part = this.#callPart.get(id);
    if (part === undefined) return;
    this.#callPart.delete(id);
    (this.#parts[part] as CompositePart).connection.abandon?.(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#parts.map((p) => p.connection.close().catch(() => undefined)));
    this.onClose?.('composite closed');
  }

  #deliver(m: JsonRpcMessage): void {
    this.onMessage?.(m);
  }

  #ask(part: number, method: string, params: Record<string, unknown>, context: UpstreamSendContext): Promise<JsonRpcMessage> {
    const innerId = `writ-composite-${++this.#next}`;
    return new Promise<JsonRpcMessage>((resolve, reject) => {
      this.#waiting.set(`${part}\0${innerId}`, resolve);
      (this.#parts[part] as CompositePart).connection
        .send({ jsonrpc: '2.0', id: innerId, method, params }, context)
        .catch((err: unknown) => {
          this.#waiting.delete(`${part}\0${innerId}`);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
  }

  async #initialize(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    const id = message['id'] as string;
    try {
      const params = (message['params'] ?? {}) as Record<string, unknown>;
      const answers = await Promise.all(this.#parts.map((_, i) => this.#ask(i, 'initialize', params, context)));
      const failed = answers.find((a) => a['error'] !== undefined);
      if (failed !== undefined) return this.#deliver({ ...failed, id });
      const results = answers.map((a) => a['result'] as { protocolVersion?: string; capabilities?: Record<string, unknown> });
      const logging = results.some((r) => r.capabilities?.['logging'] !== undefined);
      this.#deliver({
        jsonrpc: '2.0',
        id,
        result: {
          // The agent's version when every upstream agreed to it, else the oldest any upstream chose.
          protocolVersion: results.map((r) => r.protocolVersion ?? '2025-03-26').sort()[0],
          capabilities: { tools: { listChanged: true }, ...(logging ? { logging: {} } : {}) },
          serverInfo: { name: 'writ-composite', version: '1.0.0' },
        },
      });
    } catch (err) {
      this.#deliver(rpcError(id, RPC.internalError, 'upstream unavailable', { detail: String(err) }));
    }
  }

  async #listTools(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    const id = message['id'] as string;
    try {
      const lists = await Promise.all(
        this.#parts.map(async (p, i) => {
          const tools: Record<string, unknown>[] = [];
          let cursor: unknown;
          for (let page = 0; page < MAX_PAGES; page++) {
            const a = await this.#ask(i, 'tools/list', cursor === undefined ? {} : { cursor }, context);
            const result = a['result'] as { tools?: unknown; nextCursor?: unknown } | undefined;
            if (result === undefined) throw new Error(`${p.name}: tools/list failed`);
            for (const t of Array.isArray(result.tools) ? (result.tools as Record<string, unknown>[]) : []) {
              if (typeof t['name'] === 'string') tools.push({ ...t, name: `${p.name}${SEPARATOR}${t['name']}` });
            }
            cursor = result.nextCursor;
            if (typeof cursor !== 'string') break;
          }
          return tools;
        }),
      );
      this.#deliver({ jsonrpc: '2.0', id, result: { tools: lists.flat() } });
    } catch (err) {
      this.#deliver(rpcError(id, RPC.internalError, 'upstream unavailable', { detail: String(err) }));
    }
  }

  async #callTool(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    const params = (message['params'] ?? {}) as Record<string, unknown>;
    const name = typeof params['name'] === 'string' ? params['name'] : '';
    const dot = name.indexOf(SEPARATOR);
    const part = dot === -1 ? -1 : this.#parts.findIndex((p) => p.name === name.slice(0, dot));
    if (part === -1) return this.#deliver(rpcError(message['id'] as string, RPC.invalidParams, `unknown tool ${name}`));
    this.#callPart.set(message['id'], part);
    await (this.#parts[part] as CompositePart).connection.send({ ...message, params: { ...params, name: name.slice(dot + 1) } }, context);
  }

  async #everywhere(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    const id = message['id'] as string;
    try {
      const answers = await Promise.all(
        this.#parts.map((_, i) => this.#ask(i, message['method'] as string, (message['params'] ?? {}) as Record<string, unknown>, context)),
      );
      const failed = answers.find((a) => a['error'] !== undefined);
      this.#deliver(failed !== undefined ? { ...failed, id } : { jsonrpc: '2.0', id, result: {} });
    } catch (err) {
      this.#deliver(rpcError(id, RPC.internalError, 'upstream unavailable', { detail: String(err) }));
    }
  }

  async #notify(method: string, message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    if (method === 'notifications/cancelled') {
      const requestId = (message['params'] as { requestId?: unknown } | undefined)?.requestId;
      const part = this.#callPart.get(requestId);
      if (part !== undefined) await (this.#parts[part] as CompositePart).connection.send(message, context);
      return;
    }
    await Promise.all(this.#parts.map((p) => p.connection.send(message, context)));
  }

  async #answerServerRequest(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    const route = this.#serverRequests.get(String(message['id']));
    if (route === undefined) return;
    this.#serverRequests.delete(String(message['id']));
    await (this.#parts[route.part] as CompositePart).connection.send({ ...message, id: route.id }, context);
  }

  #fromPart(part: number, m: JsonRpcMessage): void {
    const method = m['method'];
    const id = m['id'];
    if (method === undefined) {
      const waiter = this.#waiting.get(`${part}\0${String(id)}`);
      if (waiter !== undefined) {
        this.#waiting.delete(`${part}\0${String(id)}`);
        waiter(m);
        return;
      }
      this.#callPart.delete(id);
      this.#deliver(m);
      return;
    }
    if (id !== undefined) {
      // The upstream's own request: under an id that names the part, so the answer finds its way back.
      const outer = `writ-part-${part}-${++this.#next}`;
      this.#serverRequests.set(outer, { part, id });
      this.#deliver({ ...m, id: outer });
      return;
    }
    this.#deliver(m);
  }
}
