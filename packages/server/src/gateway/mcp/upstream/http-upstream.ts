/**
 * An upstream MCP server over Streamable HTTP (MCP 2025-06-18 / 2025-11-25 transport), with Writ as the client.
 * Written on undici directly rather than the SDK's client transport so that every POST carries the trace context of
 * the agent call it relays and the credential Writ injects from its vault, decided per message. Session id and
 * protocol version are learnt from the `initialize` exchange. The server's own stream (GET) is held only while the
 * gateway asks for it (`listen`: while the agent listens on its own), resumed with `Last-Event-ID` when it drops.
 *
 * No wait is unbounded: connecting has the dispatcher's timeout and an answer's headers undici's `headersTimeout`
 * (the dispatcher never queues: its connections are not bounded, the gateway's upstream budget is), a request the
 * gateway gave up on (`abandon`) drops its response stream, and a closed session aborts everything it had open, so
 * nothing holds a connection for a request nobody waits for. (A timer and an abort controller per message were
 * measured: ~8 points of MCP throughput on this machine, for nothing these bounds do not already give.)
 */
import { request, type Dispatcher } from 'undici';
import type { Logger } from '../../../observability/index.js';
import { EgressRefusedError } from '../../../http/index.js';
import { SseParser } from '../sse.js';
import { UpstreamError, type JsonRpcMessage, type UpstreamConnection, type UpstreamSendContext } from './upstream-connection.js';

export interface HttpUpstreamOptions {
  url: string;
  dispatcher: Dispatcher;
  /** Headers and query parameters of the injected credential, read per message (secrets rotate). */
  credential(): Promise<{ headers: Record<string, string>; query: URLSearchParams; rejected?: (() => void) | undefined }>;
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
  /** Aborts every exchange of the session when it ends. */
  readonly #abort = new AbortController();
  /** Response streams of requests still being answered, by the id the upstream knows them by: what `abandon` drops. */
  readonly #answering = new Map<string, Dispatcher.ResponseData['body']>();
  /** The GET stream's exchange while the gateway wants one. */
  #listener: AbortController | undefined;
  /** The GET stream's parser, kept across reconnections for its `Last-Event-ID`. */
  #getParser: SseParser | undefined;
  /** The URL and credential headers, reused for a second: a rotated secret reaches the next message after that. */
  #base: { until: number; url: string; headers: Record<string, string>; rejected: (() => void) | undefined } | undefined;

  constructor(o: HttpUpstreamOptions) {
    this.#o = o;
  }

  async send(message: JsonRpcMessage, context: UpstreamSendContext, retried = false): Promise<void> {
    if (this.#closed) throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream connection closed');
    if (message['method'] === 'initialize') this.#initializeId = message['id'];
    const { url, headers, rejected } = await this.#target(context.traceparent);
    const requestId = typeof message['method'] === 'string' && typeof message['id'] === 'string' ? message['id'] : undefined;
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
      if (err instanceof EgressRefusedError) {
        this.#o.logger.warn({ err: err.message }, 'mcp upstream connection refused by the egress rules');
        throw new UpstreamError('ERR_EGRESS_REFUSED', err.message);
      }
      const code = (err as { code?: string }).code;
      throw new UpstreamError(
        code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 'ERR_UPSTREAM_TIMEOUT' : 'ERR_UPSTREAM_UNAVAILABLE',
        String(err),
      );
    }
    // A minted credential the upstream refused (revoked or expired early at its authorization server): replaced once,
    // and the message sent again — the upstream did not take it.
    if (res.statusCode === 401 && rejected !== undefined && !retried) {
      await res.body.dump();
      rejected();
      this.#base = undefined;
      return this.send(message, context, true);
    }
    if (requestId !== undefined) this.#answering.set(requestId, res.body);
    try {
      await this.#answer(res, requestId);
    } catch (err) {
      this.#answered(requestId, res.body);
      throw err instanceof UpstreamError ? err : new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', String(err));
    }
  }

  listen(on: boolean): void {
    if (!on) {
      this.#listener?.abort();
      this.#listener = undefined;
      return;
    }
    if (this.#listener !== undefined || this.#closed) return;
    const exchange = new AbortController();
    this.#listener = exchange;
    this.#runGetStream(exchange)
      .catch((err: unknown) => {
        if (!exchange.signal.aborted) this.#o.logger.debug({ err: String(err) }, 'mcp upstream GET stream ended');
      })
      .finally(() => {
        if (this.#listener === exchange) this.#listener = undefined;
      });
  }

  abandon(id: string): void {
    const body = this.#answering.get(id);
    this.#answering.delete(id);
    body?.destroy();
  }

  #answered(requestId: string | undefined, body: Dispatcher.ResponseData['body']): void {
    if (requestId !== undefined && this.#answering.get(requestId) === body) this.#answering.delete(requestId);
  }

  /** A POST's answer: accepted (202), the session gone (404), one JSON message, or an SSE stream that goes on. */
  async #answer(res: Dispatcher.ResponseData, requestId: string | undefined): Promise<void> {
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && this.#sessionId === undefined) this.#sessionId = sid;
    if (res.statusCode === 202) {
      await res.body.dump();
      this.#answered(requestId, res.body);
      return;
    }
    if (res.statusCode === 404 && this.#sessionId !== undefined) {
      await res.body.dump();
      this.#answered(requestId, res.body);
      this.#end('the upstream ended its session');
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'upstream session ended');
    }
    const type = String(res.headers['content-type'] ?? '').toLowerCase();
    if (res.statusCode !== 200 || !(type.startsWith('application/json') || type.startsWith('text/event-stream'))) {
      const text = (await readLimited(res.body, 4096).catch(() => '')).slice(0, 500);
      this.#answered(requestId, res.body);
      throw new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', `upstream answered ${res.statusCode} ${type}: ${text}`);
    }
    if (type.startsWith('application/json')) {
      const text = await readLimited(res.body, this.#o.maxMessageBytes);
      this.#answered(requestId, res.body);
      this.#deliverJson(text);
      return;
    }
    // An SSE answer streams on after `send` resolves: the response (and related messages) arrive through onMessage.
    void this.#consume(res.body, new SseParser(this.#o.maxMessageBytes))
      .catch((err: unknown) => {
        if (!this.#closed) this.#o.logger.debug({ err: String(err) }, 'mcp upstream stream ended');
      })
      .finally(() => this.#answered(requestId, res.body));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const sid = this.#sessionId;
    this.#end('closed by Writ');
    if (sid === undefined) return;
    try {
      const { url, headers } = await this.#target(undefined);
      const res = await request(url, {
        method: 'DELETE',
        dispatcher: this.#o.dispatcher,
        headers,
        headersTimeout: this.#o.timeoutMs,
        bodyTimeout: this.#o.timeoutMs,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      await res.body.dump();
    } catch {
      // The upstream may already be gone; its session then ends with it.
    }
  }

  #end(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#listener?.abort();
    this.#listener = undefined;
    this.#answering.clear();
    this.onClose?.(reason);
  }

  async #target(
    traceparent: string | undefined,
  ): Promise<{ url: string; headers: Record<string, string>; rejected: (() => void) | undefined }> {
    const now = Date.now();
    if (this.#base === undefined || this.#base.until < now) {
      const cred = await this.#o.credential();
      const u = new URL(this.#o.url);
      for (const [k, v] of cred.query) u.searchParams.append(k, v);
      this.#base = { until: now + CREDENTIAL_REUSE_MS, url: u.toString(), headers: cred.headers, rejected: cred.rejected };
    }
    const url = this.#base.url;
    const headers: Record<string, string> = { ...this.#base.headers };
    if (traceparent !== undefined) headers['traceparent'] = traceparent;
    if (this.#sessionId !== undefined) headers['mcp-session-id'] = this.#sessionId;
    if (this.#protocolVersion !== undefined) headers['mcp-protocol-version'] = this.#protocolVersion;
    return { url, headers, rejected: this.#base.rejected };
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
    if (this.#initializeId !== undefined && msg['id'] === this.#initializeId && msg['method'] === undefined) {
      const v = (msg['result'] as { protocolVersion?: unknown } | undefined)?.protocolVersion;
      if (typeof v === 'string') this.#protocolVersion = v;
      this.#initializeId = undefined;
    }
    this.onMessage?.(msg);
  }

  async #consume(body: Dispatcher.ResponseData['body'], parser: SseParser): Promise<void> {
    body.setEncoding('utf8');
    for await (const chunk of body as AsyncIterable<string>) {
      for (const e of parser.push(chunk)) if (e.event === 'message' && e.data !== '') this.#deliverJson(e.data);
    }
  }

  /**
   * The server's own stream (MCP §Streamable HTTP "Listening for messages"), reopened when it drops, until the
   * gateway stops listening or the session ends; 405 (or any other refusal) means the server has none.
   */
  async #runGetStream(exchange: AbortController): Promise<void> {
    const parser = (this.#getParser ??= new SseParser(this.#o.maxMessageBytes));
    for (let attempt = 0; attempt < MAX_GET_RETRIES && !exchange.signal.aborted && !this.#closed; attempt++) {
      const { url, headers } = await this.#target(undefined);
      if (parser.lastEventId !== undefined) headers['last-event-id'] = parser.lastEventId;
      const timer = setTimeout(() => exchange.abort(), this.#o.timeoutMs);
      timer.unref();
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method: 'GET',
          dispatcher: this.#o.dispatcher,
          headers: { ...headers, accept: 'text/event-stream' },
          headersTimeout: this.#o.timeoutMs,
          bodyTimeout: 0,
          signal: exchange.signal,
        });
      } finally {
        clearTimeout(timer);
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        return;
      }
      await this.#consume(res.body, parser);
    }
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
