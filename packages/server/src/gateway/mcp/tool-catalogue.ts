/**
 * The tools an MCP resource offers, as its upstream lists them: what the consent page shows a person to choose from,
 * and the input schemas a grant's conditions on tool arguments are validated against (register.ts).
 * One short-lived upstream session (initialize, tools/list page by page, close), remembered per resource for a
 * little while so that every consent does not start one. Names are those agents see (a composite prefixes them).
 */
import { traceFrom } from '../../observability/index.js';
import type { Resource } from '../../register/index.js';
import type { JsonRpcMessage, UpstreamConnection } from './upstream/index.js';
import { UPSTREAM_VERSION_FOR_MODERN } from './sessionless.js';

export interface ToolCatalogueDeps {
  connect(resource: Resource): Promise<UpstreamConnection>;
  timeoutMs: number;
  /** How long a listing is reused, ms. */
  ttlMs: number;
  now: () => number;
}

export interface CatalogueTool {
  name: string;
  title: string;
  description: string;
  /** The tool's `inputSchema` as listed (a JSON Schema object), when it lists one. */
  inputSchema?: Record<string, unknown>;
}

/** A listing of more tools than this is cut: a consent page is for a person to read. */
const MAX_TOOLS = 500;
const MAX_PAGES = 20;

export class ToolCatalogue {
  readonly #deps: ToolCatalogueDeps;
  readonly #cache = new Map<string, { at: number; version: number; tools: Promise<CatalogueTool[]> }>();

  constructor(deps: ToolCatalogueDeps) {
    this.#deps = deps;
  }

  /** The resource's tools; `version` is the register version the resource was read at (a change lists anew). */
  tools(resource: Resource, version: number): Promise<CatalogueTool[]> {
    const hit = this.#cache.get(resource.id);
    if (hit !== undefined && hit.version === version && this.#deps.now() - hit.at < this.#deps.ttlMs) return hit.tools;
    const tools = this.#list(resource);
    this.#cache.set(resource.id, { at: this.#deps.now(), version, tools });
    // A listing that failed is not remembered: the next consent tries again.
    tools.catch(() => this.#cache.delete(resource.id));
    return tools;
  }

  async #list(resource: Resource): Promise<CatalogueTool[]> {
    const conn = await this.#deps.connect(resource);
    const pending = new Map<string, { resolve(m: JsonRpcMessage): void; reject(e: Error): void }>();
    conn.onMessage = (m) => {
      const id = typeof m['id'] === 'string' ? m['id'] : undefined;
      if (id === undefined) return;
      pending.get(id)?.resolve(m);
      pending.delete(id);
    };
    conn.onClose = (reason) => {
      for (const p of pending.values()) p.reject(new Error(`upstream closed: ${reason}`));
      pending.clear();
    };
    const trace = traceFrom(undefined);
    let seq = 0;
    const request = async (method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const id = `writ-catalogue-${++seq}`;
      const answer = new Promise<JsonRpcMessage>((resolve, reject) => pending.set(id, { resolve, reject }));
      // Observed at once: if the send below fails, the close that follows rejects this with nobody awaiting it.
      answer.catch(() => undefined);
      try {
        await conn.send({ jsonrpc: '2.0', id, method, params }, { traceparent: trace.traceparent });
      } catch (err) {
        pending.delete(id);
        throw err;
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${method}: no answer in ${this.#deps.timeoutMs} ms`)), this.#deps.timeoutMs);
      });
      try {
        const m = await Promise.race([answer, timeout]);
        const result = m['result'];
        if (result === null || typeof result !== 'object') throw new Error(`${method}: ${JSON.stringify(m['error'] ?? 'no result')}`);
        return result as Record<string, unknown>;
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      await request('initialize', {
        protocolVersion: UPSTREAM_VERSION_FOR_MODERN,
        capabilities: {},
        clientInfo: { name: 'writ-consent', version: '1' },
      });
      await conn.send({ jsonrpc: '2.0', method: 'notifications/initialized' }, { traceparent: trace.traceparent });
      const tools: CatalogueTool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES && tools.length < MAX_TOOLS; page++) {
        const result = await request('tools/list', cursor !== undefined ? { cursor } : {});
        for (const t of Array.isArray(result['tools']) ? (result['tools'] as unknown[]) : []) {
          const tool = toolOf(t);
          if (tool !== undefined && tools.length < MAX_TOOLS) tools.push(tool);
        }
        cursor = typeof result['nextCursor'] === 'string' ? result['nextCursor'] : undefined;
        if (cursor === undefined) break;
      }
      return tools;
    } finally {
      await conn.close().catch(() => undefined);
    }
  }
}

function toolOf(t: unknown): CatalogueTool | undefined {
  if (t === null || typeof t !== 'object') return undefined;
  const o = t as Record<string, unknown>;
  if (typeof o['name'] !== 'string' || o['name'] === '' || o['name'].length > 128) return undefined;
  const annotations =
    o['annotations'] !== null && typeof o['annotations'] === 'object' ? (o['annotations'] as Record<string, unknown>) : {};
  const title = typeof o['title'] === 'string' ? o['title'] : typeof annotations['title'] === 'string' ? annotations['title'] : '';
  const description = typeof o['description'] === 'string' ? o['description'] : '';
  const input = o['inputSchema'];
  return {
    name: o['name'],
    title: title.slice(0, 200),
    description: description.slice(0, 300),
    ...(input !== null && typeof input === 'object' && !Array.isArray(input) ? { inputSchema: input as Record<string, unknown> } : {}),
  };
}
