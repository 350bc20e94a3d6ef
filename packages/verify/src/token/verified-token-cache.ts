/**
 * Remembers tokens whose signature and claim types were already verified (the RFC 9068 §4 steps that do not depend
 * on the time of the call), so a task's repeated calls skip the signature check. Keyed by the whole token — never by
 * a part of it, so a valid signature cannot be paired with other claims (hashing it first cost ~7 µs per call; the
 * string itself is a fine Map key). Only verified tokens enter, so an attacker cannot fill it with junk. Time, issuer
 * and audience are re-checked on every hit by verifyTaskToken, and a hit counts only while the key that verified the
 * token is still the one its `kid` names (a withdrawn or replaced key, or a cache shared with another key set, sends
 * the token back through the signature check).
 */
import type { KeyObject } from 'node:crypto';
import type { TaskTokenClaims } from '@writ/protocol';

export interface VerifiedToken {
  /** Deep-frozen: the same object is handed to every call that presents the token. */
  claims: TaskTokenClaims;
  kid: string;
  key: KeyObject;
}

/**
 * Bounded map of verified tokens, least recently used evicted first.
 *
 * @example
 * const tokenCache = new VerifiedTokenCache({ maxEntries: 20_000 });
 * verifyTaskToken(token, { issuer, audience, keys, clockSkewSeconds: 5, cache: tokenCache });
 */
export class VerifiedTokenCache {
  readonly #max: number;
  readonly #map = new Map<string, VerifiedToken>();

  constructor(opts: { maxEntries?: number } = {}) {
    this.#max = opts.maxEntries ?? 100_000;
    if (!Number.isSafeInteger(this.#max) || this.#max < 1) throw new TypeError('maxEntries must be a positive integer');
  }

  get(token: string): VerifiedToken | undefined {
    const hit = this.#map.get(token);
    if (hit === undefined) return undefined;
    // Re-inserting moves a hit to the back of the Map's order, so the front is the least recently used.
    this.#map.delete(token);
    this.#map.set(token, hit);
    return hit;
  }

  /** `nowSeconds` lets the cache drop expired tokens from its head (tokens arrive roughly in expiry order). */
  set(token: string, entry: VerifiedToken, nowSeconds?: number): void {
    if (nowSeconds !== undefined) {
      for (let i = 0; i < 8; i++) {
        const first = this.#map.entries().next();
        if (first.done === true || first.value[1].claims.exp >= nowSeconds) break;
        this.#map.delete(first.value[0]);
      }
    }
    this.#map.delete(token);
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value as string);
    this.#map.set(token, entry);
  }

  delete(token: string): void {
    this.#map.delete(token);
  }

  get size(): number {
    return this.#map.size;
  }
}
