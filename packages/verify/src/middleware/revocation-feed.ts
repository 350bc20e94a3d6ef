/**
 * The client of Writ's revocation feed for verifiers: `GET {issuer}/revocation/v1/events` as server-sent events,
 * authenticated with a bearer feed token. It resumes from the last sequence it applied (`Last-Event-ID` and
 * `?after=`), applies each `revocation` event's `RevocationEntry` to a `RevocationSet` in order, and counts itself
 * current once the server's `ready` event (`{"lastSeq": N}`) says the catch-up is done. Any drop — network error,
 * non-200 answer, end of stream, oversized line, or no byte (not even a `: ping` heartbeat) for `heartbeatTimeoutMs` —
 * reconnects with exponential backoff and jitter. Only the global `fetch`, streams and timers: no Node built-ins.
 */
import type { RevocationEntry, RevocationEntryTarget, RevocationSet } from '../revocation/revocation-set.js';
import { createSseParser } from './sse-parser.js';

export interface RevocationFeedOptions {
  /** The feed's URL, e.g. `https://writ.example/revocation/v1/events`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  set: RevocationSet;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** First reconnection delay, ms (default 250); doubles up to `maxReconnectDelayMs` (default 30,000). */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** No byte from the server for this long (heartbeats are every ~15 s) counts as a drop. Default 45,000 ms. */
  heartbeatTimeoutMs?: number;
  /** Longest SSE line or event accepted, characters. Default 64 KiB. */
  maxEventLength?: number;
  /** Called after every change of state (connection, catch-up, applied entry). */
  onChange?: () => void;
}

export interface RevocationFeedState {
  /** The highest sequence the feed is known to be current to (applied entries and the server's `ready`). */
  lastSeq: number;
  /** An event stream is open. */
  connected: boolean;
  /** The open stream has finished its catch-up (`ready` received on it). */
  current: boolean;
  /** The feed has been current at least once. */
  everCurrent: boolean;
  /** When the feed last stopped being current (ms), null while current or before the first catch-up. */
  lostAt: number | null;
  /** When the last event or heartbeat arrived (ms), null before any. */
  lastEventAt: number | null;
  /** Events named `revocation` or `ready` whose data was not valid: ignored, counted. */
  invalidEvents: number;
  /** Connections opened (the first one included). */
  connections: number;
  /** Why the last connection failed or ended (no secrets in it), null when none has. */
  lastError: string | null;
}

/**
 * @example
 * const set = new RevocationSet();
 * const feed = new RevocationFeed({ url: 'https://writ.example/revocation/v1/events', token, set });
 * feed.start();
 * // feed.state.current === true once the catch-up is done
 */
export class RevocationFeed {
  readonly #o: Required<Omit<RevocationFeedOptions, 'onChange'>> & Pick<RevocationFeedOptions, 'onChange'>;
  readonly #state: RevocationFeedState = {
    lastSeq: 0,
    connected: false,
    current: false,
    everCurrent: false,
    lostAt: null,
    lastEventAt: null,
    invalidEvents: 0,
    connections: 0,
    lastError: null,
  };
  #closed = false;
  #started = false;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: RevocationFeedOptions) {
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) throw new TypeError('feed url must be an http(s) URL');
    if (typeof options.token !== 'string' || options.token === '') throw new TypeError('feed token is required');
    this.#o = {
      fetch: globalThis.fetch.bind(globalThis),
      now: Date.now,
      reconnectDelayMs: 250,
      maxReconnectDelayMs: 30_000,
      heartbeatTimeoutMs: 45_000,
      maxEventLength: 64 * 1024,
      ...options,
    };
  }

  get state(): Readonly<RevocationFeedState> {
    return { ...this.#state };
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#loop = this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort?.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let delay = this.#o.reconnectDelayMs;
    while (!this.#closed) {
      let opened = false;
      try {
        opened = await this.#connectOnce();
        if (!this.#closed) this.#state.lastError = 'stream ended';
      } catch (err) {
        if (!this.#closed) this.#state.lastError = describe(err);
      }
      this.#disconnected();
      if (this.#closed) break;
      if (opened) delay = this.#o.reconnectDelayMs;
      await this.#sleep(delay / 2 + (Math.random() * delay) / 2);
      delay = Math.min(delay * 2, this.#o.maxReconnectDelayMs);
    }
  }

  /** One connection, until it ends. True when the server accepted it (so the backoff starts again from the bottom). */
  async #connectOnce(): Promise<boolean> {
    const abort = new AbortController();
    this.#abort = abort;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const touch = (): void => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => abort.abort(new Error('heartbeat timeout')), this.#o.heartbeatTimeoutMs);
      unref(idle);
    };
    touch();
    try {
      const after = this.#state.lastSeq;
      const url = new URL(this.#o.url);
      if (after > 0) url.searchParams.set('after', String(after));
      const headers: Record<string, string> = {
        accept: 'text/event-stream',
        authorization: `Bearer ${this.#o.token}`,
        'cache-control': 'no-store',
      };
      if (after > 0) headers['last-event-id'] = String(after);
      const res = await this.#o.fetch(url, { headers, signal: abort.signal, redirect: 'error' });
      if (res.status !== 200 || !(res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream')) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`feed answered ${res.status} ${res.headers.get('content-type') ?? ''}`.trim());
      }
      if (res.body === null) throw new Error('feed answered without a body');
      this.#state.connected = true;
      this.#state.connections++;
      this.#state.lastError = null;
      this.#changed();
      const parser = createSseParser({
        maxLineLength: this.#o.maxEventLength,
        onComment: () => {
          this.#state.lastEventAt = this.#o.now();
        },
        onEvent: (e) => {
          this.#state.lastEventAt = this.#o.now();
          if (e.type === 'revocation') this.#onRevocation(e.data);
          else if (e.type === 'ready') this.#onReady(e.data);
          this.#changed();
        },
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      // Aborting the fetch does not always error a body that is already being read (seen with undici while a read
      // is pending on a quiet stream): cancel the reader ourselves so close() and the heartbeat timeout always end it.
      const cancel = (): void => void reader.cancel(abort.signal.reason).catch(() => undefined);
      if (abort.signal.aborted) cancel();
      else abort.signal.addEventListener('abort', cancel, { once: true });
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          touch();
          parser.push(decoder.decode(value, { stream: true }));
        }
      } finally {
        abort.signal.removeEventListener('abort', cancel);
        reader.releaseLock();
        abort.abort();
      }
      return true;
    } finally {
      if (idle !== undefined) clearTimeout(idle);
      this.#abort = undefined;
    }
  }

  #onRevocation(data: string): void {
    const entry = parseEntry(data);
    if (entry === null) {
      this.#state.invalidEvents++;
      return;
    }
    this.#o.set.apply(entry);
    if (entry.seq > this.#state.lastSeq) this.#state.lastSeq = entry.seq;
  }

  #onReady(data: string): void {
    let lastSeq: unknown;
    try {
      lastSeq = (JSON.parse(data) as { lastSeq?: unknown } | null)?.lastSeq;
    } catch {
      lastSeq = undefined;
    }
    if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < 0) {
      this.#state.invalidEvents++;
      return;
    }
    // Entries up to lastSeq that are no longer relevant were not sent: the feed is current to lastSeq all the same.
    if (lastSeq > this.#state.lastSeq) this.#state.lastSeq = lastSeq;
    this.#state.current = true;
    this.#state.everCurrent = true;
    this.#state.lostAt = null;
  }

  #disconnected(): void {
    const s = this.#state;
    s.connected = false;
    if (s.current) {
      s.current = false;
      s.lostAt = this.#o.now();
    }
    // Always: lastError changed even when no stream was ever open.
    this.#changed();
  }

  #changed(): void {
    try {
      this.#o.onChange?.();
    } catch {
      // A listener's failure is the listener's business.
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      unref(t);
      this.#wake = done;
    });
  }
}

function unref(t: unknown): void {
  (t as { unref?: () => void }).unref?.();
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { message?: string } };
  const msg = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
  return e?.cause?.message !== undefined ? `${msg} (${e.cause.message})` : msg;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && v.length <= 1024;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A `RevocationEntry` exactly, or null: unknown target types and missing members are not guessed at. */
export function parseEntry(data: string): RevocationEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { seq, target, expiresAt } = v as Record<string, unknown>;
  if (!isSeq(seq) || !isTime(expiresAt) || typeof target !== 'object' || target === null) return null;
  const t = target as Record<string, unknown>;
  let out: RevocationEntryTarget;
  switch (t['type']) {
    case 'token':
      if (!isId(t['jti'])) return null;
      out = { type: 'token', jti: t['jti'] };
      break;
    case 'task':
      if (!isId(t['taskId'])) return null;
      out = { type: 'task', taskId: t['taskId'] };
      break;
    case 'agent':
      if (!isId(t['agentId']) || !isTime(t['before'])) return null;
      out = { type: 'agent', agentId: t['agentId'], before: t['before'] };
      break;
    case 'user':
      if (!isId(t['userId']) || !isTime(t['before'])) return null;
      out = { type: 'user', userId: t['userId'], before: t['before'] };
      break;
    case 'key':
      if (!isId(t['jkt']) || !isTime(t['before'])) return null;
      out = { type: 'key', jkt: t['jkt'], before: t['before'] };
      break;
    case 'all':
      if (!isTime(t['before'])) return null;
      out = { type: 'all', before: t['before'] };
      break;
    case 'tool':
      if (!isId(t['resourceId']) || !isId(t['tool']) || typeof t['lifted'] !== 'boolean') return null;
      out = { type: 'tool', resourceId: t['resourceId'], tool: t['tool'], lifted: t['lifted'] };
      break;
    default:
      return null;
  }
  return { seq, target: out, expiresAt };
}
