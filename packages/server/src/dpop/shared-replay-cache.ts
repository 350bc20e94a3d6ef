/**
 * A DPoP replay cache shared by every node on one database (RFC 9449 §11.1 across a cluster): a proof replayed to
 * another node is caught there. A node's own memory answers first — a replay to the same node costs no round trip —
 * and only proofs new to this node go to the store, as one atomic upsert that succeeds only when the key is absent
 * or expired. A store error refuses the proof (fail closed): the caller sees it as a failed check, never as fresh.
 */
import type { Kysely } from 'kysely';
import { InMemoryReplayCache, type ReplayCache } from '@writ/verify/internal';
import type { Database } from '../storage/index.js';

export class SharedReplayCache implements ReplayCache {
  readonly #db: Kysely<Database>;
  readonly #local: InMemoryReplayCache;
  readonly #now: () => number;

  /** `now` in epoch seconds. */
  constructor(deps: { db: Kysely<Database>; maxLocalEntries: number; now: () => number }) {
    this.#db = deps.db;
    this.#now = deps.now;
    this.#local = new InMemoryReplayCache({ maxEntries: deps.maxLocalEntries, now: deps.now });
  }

  async checkAndStore(key: string, expiresAt: number): Promise<boolean> {
    if (!this.#local.checkAndStore(key, expiresAt)) return false;
    const expiresMs = Math.ceil(expiresAt * 1000);
    const nowMs = Math.floor(this.#now() * 1000);
    const row = await this.#db
      .insertInto('dpop_replay')
      .values({ key, expires_at: expiresMs })
      .onConflict((oc) => oc.column('key').doUpdateSet({ expires_at: expiresMs }).where('dpop_replay.expires_at', '<', nowMs))
      .returning('key')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Deletes entries that can no longer catch a replay. */
  async prune(): Promise<void> {
    await this.#db
      .deleteFrom('dpop_replay')
      .where('expires_at', '<', Math.floor(this.#now() * 1000))
      .execute();
  }
}
