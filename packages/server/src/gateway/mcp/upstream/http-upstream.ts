/**
 * An upstream MCP server over Streamable HTTP (MCP 2025-06-18 / 2025-11-25 transport), with Writ as the client.
 * Written on undici directly rather than the SDK's client transport so that every POST carries the trace context of
 * the agent call it relays and the credential Writ injects from its vault, decided per message. Session id and
 * protocol version are learnt from the `initialize` exchange; once initialized, a GET stream carries the server's
 * own messages, resumed with `Last-Event-ID` when it drops.
 */
import { request, type Dispatcher } from 'undici';
import type { Logger } from '../../../observability/index.js';
import { SseParser } from '../sse.js';
import { UpstreamError, type JsonRpcMessage, type UpstreamConnection, type UpstreamSendContext } from './upstream-connection.js';

export interface HttpUpstreamOptions {
  url: string;
  dispatcher: Dispatcher;
  /** Headers and query parameters of the injected credential, read per message (secrets rotate). */
  credential(): Promise<{ headers: Record<string, string>; query: URLSearchParams }>;
  timeoutMs: number;
  maxMessageBytes: number;
  logger: Logger;
}

const MAX_GET_RETRIES = 5;
const CREDENTIAL_REUSE_MS = 1000;

export class HttpUpstream implements UpstreamConnection {
  onMessage: ((message: JsonRpcMessage) => void) | undefined;
  onClose: ((reason: string) => void) | undefined;
  readonly #o: HttpUpstreamOptions;
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  #initializeId: unknown;
  #closed = false;
  readonly #abort = new AbortController();
  #getStreamStarted = false;
  /** Request ids whose answer is still to come on their POST's SSE stream. */
  readonly #awaiting = new Set<unknown>();
  /** The URL and credential headers, reused for a second: a rotated secret reaches the next message after that. */
  #base: { until: number; url: string; headers: Record<string, string> } | undefined;

  constructor(o: HttpUpstreamOptions) {
    this.#o = o;
  }

  async send(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void> {
    if (this.#closed) throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream connection closed');
    if (message['method'] === 'initialize') this.#initializeId = message['id'];
    const { url, headers } = await this.#target(context.traceparent);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'POST',
        dispatcher: this.#o.dispatcher,
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(message),
        headersTimeout: this.#o.timeoutMs,
        bodyTimeout: 0,
        signal: this.#abort.signal,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new UpstreamError(code === 'UND_ERR_HEADERS_TIMEOUT' ? 'ERR_UPSTREAM_TIMEOUT' : 'ERR_UPSTREAM_UNAVAILABLE', String(err));
    }
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && this.#sessionId === undefined) this.#sessionId = sid;
    if (res.statusCode === 202) {
      await res.body.dump();
      if (message['method'] === 'notifications/initialized') this.#startGetStream();
      return;
    }
    if (res.statusCode === 404 && this.#sessionId !== undefined) {
      await res.body.dump();
      this.#end('the upstream ended its session');
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream session ended');
    }
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    if (res.statusCode !== 200 || !(type.startsWith('application/json') || type.startsWith('text/event-stream'))) {
      const text = (await res.body.text()).slice(0, 500);
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `upstream answered ${res.statusCode} ${type}: ${text}`);
    }
    if (type.startsWith('application/json')) {
      const text = await readLimited(res.body, this.#o.maxMessageBytes);
      this.#deliverJson(text);
      return;
    }
    // An SSE answer streams on after `send` resolves: the response (and related messages) arrive through onMessage.
    void this.#consume(res.body, undefined).catch((err: unknown) =>
      this.#o.logger.warn({ err: String(err) }, 'mcp upstream stream failed'),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const sid = this.#sessionId;
    this.#end('closed by Writ');
    if (sid === undefined) return;
    try {
      const { url, headers } = await this.#target(undefined);
      const res = await request(url, { method: 'DELETE', dispatcher: this.#o.dispatcher, headers, headersTimeout: this.#o.timeoutMs });
      await res.body.dump();
    } catch {
      // The upstream may already be gone; its session then ends with it.
    }
  }

  #end(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.onClose?.(reason);
  }

  async #target(traceparent: string | undefined): Promise<{ url: string; headers: Record<string, string> }> {
    const now = Date.now();
    if (this.#base === undefined || this.#base.until < now) {
      const cred = await this.#o.credential();
      const u = new URL(this.#o.url);
      for (const [k, v] of cred.query) u.searchParams.append(k, v);
      this.#base = { until: now + CREDENTIAL_REUSE_MS, url: u.toString(), headers: cred.headers };
    }
    const url = this.#base.url;
    const headers: Record<string, string> = { ...this.#base.headers };
    if (traceparent !== undefined) headers['traceparent'] = traceparent;
    if (this.#sessionId !== undefined) headers['mcp-session-id'] = this.#sessionId;
    if (this.#protocolVersion !== undefined) headers['mcp-protocol-version'] = this.#protocolVersion;
    return { url, headers };
  }

  #deliverJson(text: string): void {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      this.#o.logger.warn('mcp upstream sent invalid JSON');
      return;
    }
    for (const m of Array.isArray(v) ? v : [v]) this.#deliver(m);
  }

  #deliver(m: unknown): void {
    if (typeof m !== 'object' || m === null || (m as { jsonrpc?: unknown }).jsonrpc !== '2.0') return;
    const msg = m as JsonRpcMessage;
    if (msg['method'] === undefined) this.#awaiting.delete(msg['id']);
    if (this.#initializeId !== undefined && msg['id'] === this.#initializeId && msg['method'] === undefined) {
      const v = (msg['result'] as { protocolVersion?: unknown } | undefined)?.protocolVersion;
      if (typeof v === 'string') this.#protocolVersion = v;
      this.#initializeId = undefined;
    }
    this.onMessage?.(msg);
  }

  async #consume(body: Dispatcher.ResponseData['body'], parser: SseParser | undefined): Promise<void> {
    const p = parser ?? new SseParser(this.#o.maxMessageBytes);
    body.setEncoding('utf8');
    for await (const chunk of body as AsyncIterable<string>) {
      for (const e of p.push(chunk)) if (e.event === 'message' && e.data !== '') this.#deliverJson(e.data);
    }
  }

  /** The server's own stream (MCP §Streamable HTTP "Listening for messages"); 405 means it has none. */
  #startGetStream(): void {
    if (this.#getStreamStarted) return;
    this.#getStreamStarted = true;
    const parser = new SseParser(this.#o.maxMessageBytes);
    const run = async (): Promise<void> => {
      for (let attempt = 0; attempt < MAX_GET_RETRIES && !this.#closed; attempt++) {
        const { url, headers } = await this.#target(undefined);
        if (parser.lastEventId !== undefined) headers['last-event-id'] = parser.lastEventId;
        const res = await request(url, {
          method: 'GET',
          dispatcher: this.#o.dispatcher,
          headers: { ...headers, accept: 'text/event-stream' },
          headersTimeout: this.#o.timeoutMs,
          bodyTimeout: 0,
          signal: this.#abort.signal,
        });
        if (res.statusCode !== 200) {
          await res.body.dump();
          return;
        }
        await this.#consume(res.body, parser);
      }
    };
    run().catch((err: unknown) => {
      if (!this.#closed) this.#o.logger.debug({ err: String(err) }, 'mcp upstream GET stream ended');
    });
  }
}

async function readLimited(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  let n = 0;
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) {
      body.destroy();
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream message too large');
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}
