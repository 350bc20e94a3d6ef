/**
 * Remembers tokens whose signature and claim types were already verified, so a task's repeated calls skip the
 * signature check. Keyed by the whole token — never by a part of it, so a valid signature cannot be paired with other
 * claims (hashing it first cost ~7 µs per call; the string itself is a fine Map key). Time, issuer and audience are
 * re-checked on every hit.
 */
import type { TaskTokenClaims } from '@writ/protocol';

export class VerifiedTokenCache {
  readonly #max: number;
  readonly #map = new Map<string, TaskTokenClaims>();

  constructor(opts: { maxEntries?: number } = {}) {
    this.#max = opts.maxEntries ?? 100_000;
  }

  static keyOf(token: string): string {
    return token;
  }

  get(key: string): TaskTokenClaims | undefined {
    return this.#map.get(key);
  }

  /** `nowSeconds` lets the cache drop expired tokens from its head (tokens arrive roughly in expiry order). */
  set(key: string, claims: TaskTokenClaims, nowSeconds?: number): void {
    if (nowSeconds !== undefined) {
      for (let i = 0; i < 8; i++) {
        const first = this.#map.entries().next();
        if (first.done === true || first.value[1].exp >= nowSeconds) break;
        this.#map.delete(first.value[0]);
      }
    }
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value as string);
    this.#map.set(key, claims);
  }

  get size(): number {
    return this.#map.size;
  }
}
