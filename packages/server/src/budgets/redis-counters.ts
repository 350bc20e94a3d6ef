/**
 * Budget counters in Redis (`WRIT_REDIS_URL`), for deployments that keep the per-call counts off their database.
 * One Lua script takes a unit from every counter of a call or from none: Redis runs a script alone, so checking every
 * cap and then incrementing is atomic across every node, and a counter never passes its cap (the same zero bound as
 * the store's counters). Each counter expires by itself (`PEXPIREAT`), so nothing needs pruning. A Redis that does
 * not answer refuses the call (the take rejects: the gateway answers 503 and audits it), never lets it through
 * uncounted.
 */
import { createClient } from 'redis';
import type { BudgetCounters, CounterTake, Taken } from './budget-counters.js';

/** KEYS: the counters; ARGV: their caps, then their expiries (epoch ms). Returns 0, or the 1-based index refused. */
const TAKE = `
local n = #KEYS
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i]) then return i end
end
for i = 1, n do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIREAT', KEYS[i], ARGV[n + i]) end
end
return 0
`;

/** KEYS: the counters to give a unit back to (never below zero). */
const GIVE_BACK = `
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`;

/** What the counters use of a Redis client: scripts, and closing. */
interface ScriptingClient {
  eval(script: string, o: { keys: string[]; arguments: string[] }): Promise<unknown>;
  close(): Promise<unknown>;
}

export class RedisCounters implements BudgetCounters {
  readonly #client: ScriptingClient;
  readonly #prefix: string;

  private constructor(client: ScriptingClient, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  /** Connects (and fails when Redis does not answer: a node that cannot count does not start). */
  static async connect(url: string, o: { prefix: string; onError(err: Error): void }): Promise<RedisCounters> {
    const client = createClient({ url });
    client.on('error', o.onError);
    await client.connect();
    return new RedisCounters(client, o.prefix);
  }

  async take(takes: readonly CounterTake[]): Promise<{ ok: true; taken: Taken } | { ok: false; refused: number }> {
    if (takes.length === 0) return { ok: true, taken: { giveBack: async () => undefined } };
    const keys = takes.map((t) => this.#key(t));
    const refused = Number(
      await this.#client.eval(TAKE, { keys, arguments: [...takes.map((t) => String(t.cap)), ...takes.map((t) => String(t.expiresAt))] }),
    );
    if (refused > 0) return { ok: false, refused: refused - 1 };
    return {
      ok: true,
      taken: {
        giveBack: async () => {
          await this.#client.eval(GIVE_BACK, { keys, arguments: [] });
        },
      },
    };
  }

  async prune(): Promise<void> {
    // Every counter carries its own expiry.
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  #key(t: CounterTake): string {
    return `${this.#prefix}${t.key}:${t.windowStart}`;
  }
}
