export { CallBudgets } from './call-budgets.js';
export type { BudgetedCall } from './call-budgets.js';
export { MemoryCounters, StoreCounters } from './budget-counters.js';
export { RedisCounters } from './redis-counters.js';
export type { BudgetCounters, CounterTake, Taken } from './budget-counters.js';
