/**
 * DPoP proof replay detection (RFC 9449 §11.1): every proof `jti` is remembered for as long as the proof could be
 * accepted. The in-memory cache is bounded; when full of live entries it refuses new proofs rather than forgetting
 * old ones, because forgetting would let a replay through (fail closed).
 */
export interface ReplayCache {
  /** Remembers `key` until `expiresAt` (epoch seconds); false when it was already there. */
  checkAndStore(key: string, expiresAt: number): boolean | Promise<boolean>;
}

export class ReplayCacheFullError extends Error {
  constructor() {
    super('DPoP replay cache is full');
    this.name = 'ReplayCacheFullError';
  }
}

export class InMemoryReplayCache implements ReplayCache {
  readonly #max: number;
  readonly #now: () => number;
  /** Insertion order is expiry order for a fixed acceptance window, so pruning looks at the oldest first. */
  readonly #entries = new Map<string, number>();
  /**
   * After a full sweep found nothing to reclaim: the earliest expiry it saw. Until then the cache cannot have room,
   * so refusing costs O(1) — without this, a flood of fresh proofs against a full cache would each scan it whole.
   */
  #fullUntil = -Infinity;

  constructor(opts: { maxEntries?: number; now?: () => number } = {}) {
    this.#max = opts.maxEntries ?? 1_000_000;
    this.#now = opts.now ?? (() => Date.now() / 1000);
  }

  get size(): number {
    return this.#entries.size;
  }

  checkAndStore(key: string, expiresAt: number): boolean {
    const now = this.#now();
    this.#dropExpiredHead(now);
    const seen = this.#entries.get(key);
    if (seen !== undefined && seen >= now) return false;
    if (this.#entries.size >= this.#max) {
      if (now <= this.#fullUntil) throw new ReplayCacheFullError();
      this.#prune(now);
      if (this.#entries.size >= this.#max) throw new ReplayCacheFullError();
    }
    this.#entries.delete(key);
    this.#entries.set(key, expiresAt);
    return true;
  }

  /** Amortised O(1): entries arrive roughly in expiry order, so expired ones gather at the head of the map. */
  #dropExpiredHead(now: number): void {
    for (let i = 0; i < 8; i++) {
      const first = this.#entries.entries().next();
      if (first.done === true || first.value[1] >= now) return;
      this.#entries.delete(first.value[0]);
    }
  }

  #prune(now: number): void {
    for (const [k, exp] of this.#entries) {
      if (exp < now) this.#entries.delete(k);
      else if (this.#entries.size < this.#max) break;
    }
    // Entries are not strictly ordered by expiry when windows differ; sweep fully only if the cheap pass failed.
    if (this.#entries.size >= this.#max) {
      let earliest = Infinity;
      for (const [k, exp] of this.#entries) {
        if (exp < now) this.#entries.delete(k);
        else if (exp < earliest) earliest = exp;
      }
      if (this.#entries.size >= this.#max) this.#fullUntil = earliest;
    }
  }
}
