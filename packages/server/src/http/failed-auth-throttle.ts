/**
 * Failed authentications per source address, for the credentials an operator or a receiver presents (admin tokens,
 * Shared Signals receiver tokens). These are high-entropy secrets, so guessing one is hopeless — but each guess costs
 * a lookup and, unthrottled, an audit row. After `maxFailures` failures within `windowMs` a source is locked out for
 * `lockoutMs`, whatever it presents; other sources are not affected, so an operator elsewhere still gets in. (The
 * audit log records such failures per window and address: audit/anonymous-denials.ts.) The source is the
 * connection's peer address: a proxy in front of Writ makes every client one source (documented in docs/security.md).
 */

export interface FailedAuthThrottleOptions {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  /** Sources tracked at once; the oldest is forgotten beyond it, so a spray of addresses cannot grow memory. */
  maxSources?: number;
  now?: () => number;
}

interface SourceState {
  windowStart: number;
  failures: number;
  lockedUntil: number;
}

export class FailedAuthThrottle {
  readonly #o: Required<FailedAuthThrottleOptions>;
  readonly #sources = new Map<string, SourceState>();

  constructor(opts: FailedAuthThrottleOptions) {
    this.#o = { maxSources: 10_000, now: Date.now, ...opts };
  }

  /** Seconds until `source` may present a credential again; 0 when it may now. */
  retryAfterSeconds(source: string): number {
    const s = this.#sources.get(source);
    const wait = s === undefined ? 0 : s.lockedUntil - this.#o.now();
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  /** Counts a failure; true when the source is locked out from now on. */
  fail(source: string): boolean {
    const now = this.#o.now();
    let s = this.#sources.get(source);
    if (s === undefined) {
      if (this.#sources.size >= this.#o.maxSources) this.#sources.delete(this.#sources.keys().next().value as string);
      s = { windowStart: now, failures: 0, lockedUntil: 0 };
      this.#sources.set(source, s);
    }
    if (now - s.windowStart >= this.#o.windowMs) {
      s.windowStart = now;
      s.failures = 0;
    }
    s.failures += 1;
    if (s.failures < this.#o.maxFailures) return false;
    s.lockedUntil = now + this.#o.lockoutMs;
    return true;
  }
}
