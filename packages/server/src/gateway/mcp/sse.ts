/**
 * Server-sent events (WHATWG HTML §9.2) for MCP Streamable HTTP: a writer for the streams Writ serves to agents,
 * and an incremental parser for the streams upstream servers send. Only `data` and `id` matter to MCP; comments and
 * `retry` are accepted and ignored.
 */
import type { ServerResponse } from 'node:http';

export class SseWriter {
  readonly #res: ServerResponse;
  #open = true;

  /** `flush`: send the headers now (a long-lived stream); otherwise they leave with the first event, in one write. */
  constructor(res: ServerResponse, headers: Record<string, string>, flush = true) {
    this.#res = res;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
    });
    if (flush) res.flushHeaders();
    res.on('close', () => {
      this.#open = false;
    });
  }

  get open(): boolean {
    return this.#open && !this.#res.writableEnded;
  }

  send(data: unknown): void {
    if (!this.open) return;
    // JSON.stringify never emits a raw newline, so one `data:` line carries the whole message.
    this.#res.write(`event: message\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    if (this.open) this.#res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.open) this.#res.end();
    this.#open = false;
  }
}

export interface SseEvent {
  data: string;
  id: string | undefined;
  event: string;
}

/** Feeds text chunks in, yields complete events. Bounded: an event larger than `maxEventBytes` is an error. */
export class SseParser {
  readonly #maxEventBytes: number;
  #buffer = '';
  #data: string[] = [];
  #dataBytes = 0;
  #id: string | undefined;
  #event = 'message';
  lastEventId: string | undefined;

  constructor(maxEventBytes: number) {
    this.#maxEventBytes = maxEventBytes;
  }

  push(chunk: string): SseEvent[] {
    this.#buffer += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const nl = this.#buffer.search(/\r\n|\r|\n/);
      if (nl === -1) break;
      const line = this.#buffer.slice(0, nl);
      const width = this.#buffer.startsWith('\r\n', nl) ? 2 : 1;
      this.#buffer = this.#buffer.slice(nl + width);
      const event = this.#line(line);
      if (event !== undefined) events.push(event);
    }
    if (this.#buffer.length > this.#maxEventBytes) throw new Error('server-sent event too large');
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = 'message';
        return undefined;
      }
      const e: SseEvent = { data: this.#data.join('\n'), id: this.#id, event: this.#event };
      if (this.#id !== undefined) this.lastEventId = this.#id;
      this.#data = [];
      this.#dataBytes = 0;
      this.#event = 'message';
      return e;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.#dataBytes += value.length;
      if (this.#dataBytes > this.#maxEventBytes) throw new Error('server-sent event too large');
      this.#data.push(value);
    } else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'event') this.#event = value;
    return undefined;
  }
}
