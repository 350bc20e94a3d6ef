/**
 * Where budgets and rate limits count (budgets/): exact across nodes and sibling loops, so in Redis when one is
 * configured, else in the store whenever more than one event loop can take from a counter (PostgreSQL nodes, or
 * `writ serve --workers`), and in memory when one loop holds them all.
 */
import type { WritConfig } from '../config/index.js';
import type { Store } from '../storage/index.js';
import type { Logger } from '../observability/index.js';
import { MemoryCounters, RedisCounters, StoreCounters, type BudgetCounters } from '../budgets/index.js';

/** Counter writes are one short statement each: a few connections serve a node's calls without a queue. */
const COUNTER_CONNECTIONS = 4;

export async function budgetCounters(config: WritConfig, store: Store, hasSiblings: boolean, logger: Logger): Promise<BudgetCounters> {
  const redisUrl = config.budgets.redisUrl;
  if (redisUrl !== undefined)
    return RedisCounters.connect(redisUrl, {
      prefix: config.budgets.redisKeyPrefix,
      onError: (err) => logger.warn({ err: err.message }, 'budget counters: redis connection error'),
    });
  // PostgreSQL: connections of their own, so a budgeted call's counter write does not queue behind the pool, and by
  // default committed without waiting for the WAL flush (a PostgreSQL crash may lose the last moments of counts).
  if (store.dedicated !== undefined)
    return new StoreCounters(store.dedicated({ connections: COUNTER_CONNECTIONS, asynchronousCommit: config.budgets.asynchronousCommit }), {
      owned: true,
    });
  return hasSiblings ? new StoreCounters(store.db) : new MemoryCounters();
}
