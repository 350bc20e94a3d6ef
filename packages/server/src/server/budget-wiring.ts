/**
 * Where budgets and rate limits count (budgets/): exact across nodes and sibling loops, so in Redis when one is
 * configured, else in the store whenever more than one event loop can take from a counter (PostgreSQL nodes, or
 * `writ serve --workers`), and in memory when one loop holds them all.
 */
import type { WritConfig } from '../config/index.js';
import type { Store } from '../storage/index.js';
import type { Logger } from '../observability/index.js';
import { MemoryCounters, RedisCounters, StoreCounters, type BudgetCounters } from '../budgets/index.js';

export async function budgetCounters(config: WritConfig, store: Store, hasSiblings: boolean, logger: Logger): Promise<BudgetCounters> {
  const redisUrl = config.budgets.redisUrl;
  if (redisUrl !== undefined)
    return RedisCounters.connect(redisUrl, {
      prefix: config.budgets.redisKeyPrefix,
      onError: (err) => logger.warn({ err: err.message }, 'budget counters: redis connection error'),
    });
  return store.connection !== undefined || hasSiblings ? new StoreCounters(store.db) : new MemoryCounters();
}
