/**
 * RFC 8935 push delivery. One loop per node, started by `start()` and stopped by `close()`, woken at once when this
 * node enqueues a SET and by a periodic sweep for SETs other nodes enqueued or whose retry is due. Per stream, only
 * the oldest pending SET is attempted, under the stream's lease, so SETs arrive in order and once even when several
 * nodes share the database.
 *
 * `202` is delivered; `400` with `{err, description}` is the receiver refusing that SET for good (recorded, never
 * retried); anything else — a network error, a timeout, 5xx, a redirect (never followed) — is retried with
 * exponential backoff, capped.
 */
import { randomBytes } from 'node:crypto';
import { request, type Agent } from 'undici';
import { EgressRefusedError, type EgressGuard } from '../http/index.js';
import type { Logger } from '../observability/index.js';
import type { SsfOutbox } from './ssf-outbox.js';
import type { SsfStreams } from './ssf-streams.js';
import { SET_MEDIA_TYPE } from './ssf-vocabulary.js';

export interface PushWorkerOptions {
  outbox: SsfOutbox;
  streams: SsfStreams;
  logger: Logger;
  timeoutMs: number;
  retryInitialMs: number;
  /** Where pushes may go (http/egress-guard.ts): a receiver's endpoint is checked on the address connected to. */
  egress: EgressGuard;
  /** Longest wait before another node's work is noticed, ms. */
  sweepIntervalMs?: number;
  /** The clock the outbox stamps retry times with. */
  now: () => number;
}

const RETRY_CAP_MS = 300_000;
const MAX_ERROR_BYTES = 4096;
const STREAMS_PER_PASS = 32;
const CONTENDED_RECHECK_MS = 50;

type Outcome = { kind: 'delivered' } | { kind: 'refused'; err: string } | { kind: 'retry'; why: string };

export class PushWorker {
  readonly #o: PushWorkerOptions;
  readonly #owner = `node-${randomBytes(8).toString('hex')}`;
  readonly #agent: Agent;
  /** Aborts pushes in flight when the worker closes: shutdown does not wait for a slow receiver. */
  readonly #closing = new AbortController();
  #running: Promise<void> | undefined;
  #again = false;
  #closed = true;
  #sweep: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #contendedTimer: NodeJS.Timeout | undefined;

  constructor(o: PushWorkerOptions) {
    this.#o = o;
    this.#agent = o.egress.agent({ connectTimeout: o.timeoutMs, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
  }

  start(): void {
    if (!this.#closed || this.#closing.signal.aborted) return;
    this.#closed = false;
    this.#sweep = setInterval(() => this.wake(), this.#o.sweepIntervalMs ?? 5_000);
    this.#sweep.unref();
    this.wake();
  }

  /** Runs a pass now, or right after the one in progress. */
  wake(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    clearInterval(this.#sweep);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#contendedTimer);
    await this.#running;
    await this.#agent.close();
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        const due = await this.#o.outbox.dueStreams(STREAMS_PER_PASS);
        const contended = (await Promise.all(due.map((id) => this.#drain(id)))).some((busy) => busy);
        if (due.length === STREAMS_PER_PASS) this.#again = true;
        await this.#scheduleRetry();
        // Another node holds a stream this node has work for: look again shortly, not only at the next sweep, since
        // that node may have finished its pass before our SET was stored.
        if (contended && this.#contendedTimer === undefined) {
          this.#contendedTimer = setTimeout(() => {
            this.#contendedTimer = undefined;
            this.wake();
          }, CONTENDED_RECHECK_MS);
          this.#contendedTimer.unref();
        }
      } catch (err) {
        this.#o.logger.error({ err }, 'ssf push pass failed');
      }
    } while (this.#again && !this.#closed);
  }

  async #scheduleRetry(): Promise<void> {
    const at = await this.#o.outbox.nextRetryAt();
    clearTimeout(this.#retryTimer);
    if (at === undefined || this.#closed) return;
    // At least a few milliseconds: a SET due now but leased elsewhere must not spin this loop.
    this.#retryTimer = setTimeout(() => this.wake(), Math.max(10, Math.min(at - this.#o.now(), this.#o.sweepIntervalMs ?? 5_000)));
    this.#retryTimer.unref();
  }

  /** Delivers a stream's due SETs in order while this node holds its lease; true when another node holds it. */
  async #drain(streamId: string): Promise<boolean> {
    const leaseMs = this.#o.timeoutMs * 2 + 5_000;
    if (!(await this.#o.outbox.lease(streamId, this.#owner, leaseMs))) return true;
    try {
      while (!this.#closed) {
        const head = await this.#o.outbox.head(streamId);
        if (head === undefined) return false;
        const target = await this.#o.streams.pushTarget(streamId);
        if (target === undefined) return false;
        const outcome = await this.#push(target.url, target.authorization?.reveal(), head.set_jwt);
        const log = { stream_id: streamId, jti: head.jti, attempt: head.attempts + 1 };
        if (outcome.kind === 'delivered') await this.#o.outbox.delivered(head.seq);
        else if (outcome.kind === 'refused') {
          this.#o.logger.warn({ ...log, err: outcome.err }, 'ssf receiver refused a SET');
          await this.#o.outbox.failed(head.seq, outcome.err);
        } else {
          const delay = Math.min(RETRY_CAP_MS, this.#o.retryInitialMs * 2 ** Math.min(head.attempts, 20));
          this.#o.logger.info({ ...log, why: outcome.why, retry_in_ms: delay }, 'ssf push failed; will retry');
          await this.#o.outbox.retryLater(head.seq, head.attempts + 1, delay, outcome.why);
          return false;
        }
        if (!(await this.#o.outbox.lease(streamId, this.#owner, leaseMs))) return true;
      }
      return false;
    } finally {
      await this.#o.outbox.release(streamId, this.#owner).catch(() => undefined);
    }
  }

  async #push(url: string, authorization: string | undefined, set: string): Promise<Outcome> {
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: {
          'content-type': SET_MEDIA_TYPE,
          accept: 'application/json',
          ...(authorization !== undefined ? { authorization } : {}),
        },
        body: set,
        signal: AbortSignal.any([AbortSignal.timeout(this.#o.timeoutMs), this.#closing.signal]),
      });
      if (res.statusCode >= 200 && res.statusCode < 300) {
        await res.body.dump();
        return { kind: 'delivered' };
      }
      if (res.statusCode === 400) return { kind: 'refused', err: await receiverError(res.body) };
      await res.body.dump();
      return { kind: 'retry', why: `HTTP ${res.statusCode}` };
    } catch (err) {
      // Refused by the egress rules: retried like any failure (an operator may allow the address), and said so.
      if (err instanceof EgressRefusedError) return { kind: 'retry', why: err.message };
      return {
        kind: 'retry',
        why: (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { code?: string }).code ?? 'network error'),
      };
    }
  }
}

/** The `err` of an RFC 8935 §2.3 error body, or `invalid_request` when the body is not one. */
async function receiverError(body: AsyncIterable<Buffer> & { dump(): Promise<void> }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > MAX_ERROR_BYTES) break;
    chunks.push(c);
  }
  await body.dump().catch(() => undefined);
  try {
    const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { err?: unknown };
    if (typeof e.err === 'string' && /^[A-Za-z0-9_.-]{1,100}$/.test(e.err)) return e.err;
  } catch {
    // Not JSON: still a permanent refusal, only without the receiver's reason.
  }
  return 'invalid_request';
}
