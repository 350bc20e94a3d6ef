/**
 * The counters behind budgets and rate limits. A call takes one unit from each counter that applies to it — all of
 * them or none: when one is at its cap, the units already taken are given back and the call is refused. A counter
 * never passes its cap, so concurrent calls (on one node or many) cannot overshoot a budget; the price is that a
 * call refused by one counter may, for the moment it took to give units back, have held a unit of another, which can
 * refuse a concurrent call that would have fitted (never admit one that does not).
 *
 * - `MemoryCounters`: one process holds every count (the embedded store, one event loop).
 * - `StoreCounters`: the counts live in the database (`budget_counters`), shared by every node and sibling loop:
 *   one statement takes every unit (`INSERT … ON CONFLICT DO UPDATE … WHERE used < cap RETURNING`), which both
 *   SQLite and PostgreSQL run atomically per row.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../storage/index.js';

export interface CounterTake {
  key: string;
  cap: number;
  /** The window's start (epoch ms), or 0 for a count without a window. */
  windowStart: number;
  /** When the counter can be forgotten (epoch ms). */
  expiresAt: number;
}

/** Taken units: `giveBack` returns them (a call refused after its units were taken, by an approval say). */
export interface Taken {
  giveBack(): Promise<void>;
}

export interface BudgetCounters {
  /** Takes a unit from every counter, or none: `refused` is the index of a counter at its cap. */
  take(takes: readonly CounterTake[]): Promise<{ ok: true; taken: Taken } | { ok: false; refused: number }>;
  /** Forgets counters past their expiry. */
  prune(now: number): Promise<void>;
  /** Lets go of a connection of its own (Redis). */
  close?(): Promise<void>;
}

const NOTHING: Taken = { giveBack: async () => undefined };

export class MemoryCounters implements BudgetCounters {
  readonly #counts = new Map<string, { used: number; expiresAt: number }>();

  async take(takes: readonly CounterTake[]): Promise<{ ok: true; taken: Taken } | { ok: false; refused: number }> {
    // One turn of the event loop: nothing else runs between the check and the count.
    for (let i = 0; i < takes.length; i++) {
      const t = takes[i] as CounterTake;
      if ((this.#counts.get(id(t))?.used ?? 0) >= t.cap) return { ok: false, refused: i };
    }
    for (const t of takes) {
      const c = this.#counts.get(id(t));
      if (c === undefined) this.#counts.set(id(t), { used: 1, expiresAt: t.expiresAt });
      else c.used++;
    }
    if (takes.length === 0) return { ok: true, taken: NOTHING };
    return {
      ok: true,
      taken: {
        giveBack: async () => {
          for (const t of takes) {
            const c = this.#counts.get(id(t));
            if (c !== undefined) c.used = Math.max(0, c.used - 1);
          }
        },
      },
    };
  }

  async prune(now: number): Promise<void> {
    for (const [k, c] of this.#counts) if (c.expiresAt < now) this.#counts.delete(k);
  }
}

export class StoreCounters implements BudgetCounters {
  readonly #db: Kysely<Database>;
  readonly #owned: boolean;

  /** `owned`: the counters' own connections (destroyed by close), not the store's pool. */
  constructor(db: Kysely<Database>, o: { owned?: boolean } = {}) {
    this.#db = db;
    this.#owned = o.owned === true;
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#db.destroy();
  }

  async take(takes: readonly CounterTake[]): Promise<{ ok: true; taken: Taken } | { ok: false; refused: number }> {
    if (takes.length === 0) return { ok: true, taken: NOTHING };
    const rows = await this.#db
      .insertInto('budget_counters')
      .values(takes.map((t) => ({ key: t.key, window_start: t.windowStart, used: 1, cap: t.cap, expires_at: t.expiresAt })))
      .onConflict((oc) =>
        oc
          .columns(['key', 'window_start'])
          .doUpdateSet({ used: sql<number>`budget_counters.used + 1`, cap: sql<number>`excluded.cap` })
          .where(sql<boolean>`budget_counters.used < excluded.cap`),
      )
      .returning(['key', 'window_start'])
      .execute();
    const took = new Set(rows.map((r) => `${r.key}\u0000${Number(r.window_start)}`));
    const give = (which: readonly CounterTake[]): Promise<void> => this.#giveBack(which);
    const refused = takes.findIndex((t) => !took.has(`${t.key}\u0000${t.windowStart}`));
    if (refused === -1) return { ok: true, taken: { giveBack: () => give(takes) } };
    await give(takes.filter((t) => took.has(`${t.key}\u0000${t.windowStart}`)));
    return { ok: false, refused };
  }

  async prune(now: number): Promise<void> {
    await this.#db.deleteFrom('budget_counters').where('expires_at', '<', now).execute();
  }

  async #giveBack(takes: readonly CounterTake[]): Promise<void> {
    for (const t of takes)
      await this.#db
        .updateTable('budget_counters')
        .set({ used: sql<number>`used - 1` })
        .where('key', '=', t.key)
        .where('window_start', '=', t.windowStart)
        .where('used', '>', 0)
        .execute();
  }
}

function id(t: CounterTake): string {
  return `${t.key}\u0000${t.windowStart}`;
}
