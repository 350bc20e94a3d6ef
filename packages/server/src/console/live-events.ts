/**
 * `GET /console/events`: server-sent events that tell open console pages something changed, so they read the admin
 * API again (the API stays the one source of truth; the stream carries only the audit head). One poller per process
 * reads the head of the audit log — every task started or ended, call, denial and change is an audit event, from any
 * node — and runs only while some page listens.
 */
import type { ServerResponse } from 'node:http';

export interface LiveEventsDeps {
  /** The audit log's last seq, this node's pending records included. */
  head(): Promise<number>;
  intervalMs: number;
  /** Most open streams on this node, all sessions together. */
  maxStreams: number;
}

interface Listener {
  res: ServerResponse;
  /** Whether its session still holds; checked every `SESSION_CHECK_MS`. */
  stillSignedIn(): Promise<boolean>;
  checkedAt: number;
}

const SESSION_CHECK_MS = 15_000;
const KEEPALIVE_TICKS = 15;

export class LiveEvents {
  readonly #d: LiveEventsDeps;
  readonly #listeners = new Set<Listener>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #last = -1;
  #polling = false;
  #ticks = 0;

  constructor(deps: LiveEventsDeps) {
    this.#d = deps;
  }

  get streams(): number {
    return this.#listeners.size;
  }

  /** Whether another stream may open now. */
  get full(): boolean {
    return this.#listeners.size >= this.#d.maxStreams;
  }

  /** Streams to `res` (headers already chosen by the caller) until the client leaves or its session ends. */
  open(res: ServerResponse, headers: Record<string, string>, stillSignedIn: () => Promise<boolean>): void {
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const listener: Listener = { res, stillSignedIn, checkedAt: Date.now() };
    this.#listeners.add(listener);
    res.write(`retry: 3000\n\n`);
    if (this.#last >= 0) res.write(`event: change\ndata: ${JSON.stringify({ seq: this.#last })}\n\n`);
    res.on('close', () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    });
    this.#start();
  }

  close(): void {
    for (const l of this.#listeners) l.res.end();
    this.#listeners.clear();
    this.#stop();
  }

  #start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#tick(), this.#d.intervalMs);
    this.#timer.unref();
    void this.#tick();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    this.#ticks++;
    try {
      const seq = await this.#d.head().catch(() => undefined);
      const changed = seq !== undefined && seq !== this.#last;
      if (seq !== undefined) this.#last = seq;
      const now = Date.now();
      for (const l of [...this.#listeners]) {
        if (now - l.checkedAt >= SESSION_CHECK_MS) {
          l.checkedAt = now;
          if (!(await l.stillSignedIn().catch(() => false))) {
            l.res.end(`event: signed-out\ndata: {}\n\n`);
            this.#listeners.delete(l);
            continue;
          }
        }
        // A change names the new head; a comment now and then keeps proxies from closing an idle stream.
        if (changed) l.res.write(`event: change\ndata: ${JSON.stringify({ seq })}\n\n`);
        else if (this.#ticks % KEEPALIVE_TICKS === 0) l.res.write(`: idle\n\n`);
      }
    } finally {
      this.#polling = false;
    }
  }
}
