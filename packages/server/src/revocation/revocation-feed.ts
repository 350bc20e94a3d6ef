/**
 * The revocation feed for Writ's own verifier middleware: `GET /revocation/v1/events`, server-sent events. A client
 * names the last sequence it applied (`Last-Event-ID`, or `?after=`); it gets every entry after it that can still hit
 * a live token, then `event: ready` with the log's highest sequence (it is current), then every new entry as it is
 * made durable, heartbeats between. Each entry is exactly what `RevocationSet.apply` takes, under `id: <seq>`, so a
 * reconnecting client resumes where it stopped and misses nothing.
 *
 * No gap between catch-up and live: the live subscription starts first and buffers; the catch-up is read; buffered
 * entries are then sent only when newer than what the catch-up sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { headerValues } from '@writ/verify/internal';
import type { AuditPort } from '../audit/index.js';
import { AdminError, adminErrorResponse, adminRateLimited, sendWire, writCodeResponse, RETRY_AFTER_SECONDS } from '../errors/index.js';
import type { FailedAuthThrottle } from '../http/index.js';
import type { RevocationEntry } from './revocation-service.js';

export interface RevocationFeedSource {
  onEntry(listener: (e: RevocationEntry) => void): () => void;
  entriesAfter(seq: number, limit: number): Promise<RevocationEntry[]>;
  lastSeq(): Promise<number>;
}

export interface RevocationFeedOptions {
  source: RevocationFeedSource;
  /** Who may read the feed (it names tasks, agents, users and keys); false: 401. */
  authorize(authorization: string | undefined): Promise<boolean>;
  /**
   * Failed feed credentials per address — the admin API's and the receivers' own count, so guesses spread over the
   * three endpoints add up — and where the refusals are recorded (per window and address: audit/anonymous-denials.ts).
   */
  throttle: FailedAuthThrottle;
  audit: AuditPort;
  heartbeatMs?: number;
  /** Open feeds at most; past it, 503. */
  maxClients?: number;
}

const CATCH_UP_PAGE = 1000;

export class RevocationFeed {
  readonly #o: RevocationFeedOptions;
  #clients = 0;

  constructor(o: RevocationFeedOptions) {
    this.#o = o;
  }

  get clients(): number {
    return this.#clients;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#serve(req, res).catch(() => sendWire(res, writCodeResponse('ERR_INTERNAL')));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET')
      return sendWire(res, adminErrorResponse(new AdminError('ERR_ADMIN_INVALID_REQUEST', 'GET only'), { allow: 'GET' }, 405));
    const source = req.socket.remoteAddress ?? 'unknown';
    const wait = this.#o.throttle.retryAfterSeconds(source);
    if (wait > 0) return sendWire(res, adminErrorResponse(adminRateLimited(wait)));
    const authorization = headerValues(req.rawHeaders, 'authorization');
    if (authorization.length > 1)
      return sendWire(res, adminErrorResponse(new AdminError('ERR_ADMIN_INVALID_REQUEST', 'more than one Authorization header')));
    if (!(await this.#o.authorize(authorization[0]))) {
      const locked = this.#o.throttle.fail(source);
      this.#o.audit.record({
        type: 'admin.denied',
        action: 'GET /revocation/v1/events',
        decision: 'deny',
        reason: locked ? 'ERR_ADMIN_RATE_LIMITED' : 'ERR_ADMIN_UNAUTHENTICATED',
        data: { source },
      });
      if (locked) return sendWire(res, adminErrorResponse(adminRateLimited(this.#o.throttle.retryAfterSeconds(source))));
      const refused = new AdminError('ERR_ADMIN_UNAUTHENTICATED', 'a feed token (admin token) is required');
      return sendWire(res, adminErrorResponse(refused, { 'www-authenticate': 'Bearer realm="writ-revocation-feed"' }));
    }
    const after = startSeq(req);
    if (after === undefined)
      return sendWire(
        res,
        adminErrorResponse(new AdminError('ERR_ADMIN_INVALID_REQUEST', 'Last-Event-ID / after must be a sequence number')),
      );
    if (this.#clients >= (this.#o.maxClients ?? 1000))
      return sendWire(res, writCodeResponse('ERR_NOT_READY', 'too many feed clients', { 'retry-after': String(RETRY_AFTER_SECONDS) }));

    this.#clients++;
    let last = after;
    const buffered: RevocationEntry[] = [];
    let live = false;
    const send = (e: RevocationEntry): void => {
      if (e.seq <= last) return;
      last = e.seq;
      res.write(`id: ${e.seq}\nevent: revocation\ndata: ${JSON.stringify(e)}\n\n`);
    };
    const off = this.#o.source.onEntry((e) => (live ? send(e) : buffered.push(e)));
    const heartbeat = setInterval(() => res.write(': ping\n\n'), this.#o.heartbeatMs ?? 15_000).unref();
    res.on('close', () => {
      off();
      clearInterval(heartbeat);
      this.#clients--;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-store', connection: 'keep-alive' });
    res.flushHeaders();
    for (;;) {
      const page = await this.#o.source.entriesAfter(last, CATCH_UP_PAGE);
      for (const e of page) send(e);
      if (page.length < CATCH_UP_PAGE) break;
    }
    const head = await this.#o.source.lastSeq();
    for (const e of buffered.sort((a, b) => a.seq - b.seq)) send(e);
    live = true;
    res.write(`event: ready\ndata: ${JSON.stringify({ lastSeq: Math.max(head, last) })}\n\n`);
  }
}

/** `Last-Event-ID` wins over `?after=`; absent means from the start. Undefined when malformed. */
function startSeq(req: IncomingMessage): number | undefined {
  const header = req.headers['last-event-id'];
  const query = new URL(req.url ?? '/', 'http://x').searchParams.get('after');
  const raw = typeof header === 'string' ? header : (query ?? '0');
  return /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}
