/**
 * Writ's signing keys as a verifier holds them: fetched from `{issuer}/.well-known/jwks.json` with a timeout and a
 * size bound, refreshed on an interval, and — when a token names a `kid` we do not know (a key rotation) — refetched
 * at most once per cooldown, however many such tokens arrive, so a flood of made-up `kid`s costs Writ one request per
 * cooldown. A failed refresh keeps the keys we had; an unchanged document keeps the very key objects, so the
 * verified-token cache stays warm.
 */
import { fetchBounded } from '../http/fetch-bounded.js';
import { tokenKeysFromJwks, type TokenKeys } from '../token/token-keys.js';

export interface RemoteJwksOptions {
  url: string;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Per fetch, ms. Default 5,000. */
  timeoutMs?: number;
  /** Largest JWKS document accepted, bytes. Default 256 KiB. */
  maxBytes?: number;
  /** Least time between two refetches for an unknown `kid`, ms. Default 30,000. */
  cooldownMs?: number;
}

export class RemoteJwks implements TokenKeys {
  readonly #o: Required<RemoteJwksOptions>;
  #keys: TokenKeys | undefined;
  #text: string | undefined;
  #lastAttempt = -Infinity;
  #inflight: Promise<boolean> | undefined;
  /** Refetches done because of an unknown `kid` (for tests and metrics). */
  unknownKidRefetches = 0;

  constructor(options: RemoteJwksOptions) {
    this.#o = {
      fetch: globalThis.fetch.bind(globalThis),
      now: Date.now,
      timeoutMs: 5_000,
      maxBytes: 256 * 1024,
      cooldownMs: 30_000,
      ...options,
    };
  }

  get loaded(): boolean {
    return this.#keys !== undefined;
  }

  get(kid: string): ReturnType<TokenKeys['get']> {
    return this.#keys?.get(kid);
  }

  /** Fetches now (one fetch at a time: concurrent callers share it). True when a usable key set is in force. */
  refresh(): Promise<boolean> {
    if (this.#inflight !== undefined) return this.#inflight;
    this.#lastAttempt = this.#o.now();
    this.#inflight = this.#load().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** For a token whose `kid` is unknown: refetch unless one was tried within the cooldown. True when it refetched. */
  async refreshForUnknownKid(): Promise<boolean> {
    if (this.#inflight !== undefined) return this.#inflight;
    if (this.#o.now() - this.#lastAttempt < this.#o.cooldownMs) return false;
    this.unknownKidRefetches++;
    return this.refresh();
  }

  async #load(): Promise<boolean> {
    try {
      const answer = await fetchBounded(this.#o.url, {
        fetch: this.#o.fetch,
        timeoutMs: this.#o.timeoutMs,
        maxBytes: this.#o.maxBytes,
        init: { headers: { accept: 'application/json' } },
      });
      if (answer.status !== 200) throw new Error(`JWKS answered ${answer.status}`);
      const text = answer.text;
      if (text === this.#text) return true;
      const doc = JSON.parse(text) as { keys?: unknown };
      if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.keys)) throw new Error('not a JWKS');
      const keys = tokenKeysFromJwks({ keys: doc.keys.filter((k): k is Record<string, unknown> => typeof k === 'object' && k !== null) });
      this.#keys = keys;
      this.#text = text;
      return true;
    } catch {
      return this.#keys !== undefined;
    }
  }
}
