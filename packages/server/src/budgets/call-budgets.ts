/**
 * Budgets and rate limits at call time. What applies to a call:
 * - the task's budget, from its token's `writ_budget` detail (checked without looking anything up): `calls` in all,
 *   `calls_per_minute`, `calls_per_action` (the tool, prompt or URI; for HTTP the method and canonical path);
 * - the agent's and the user's calls per minute, from the `@budget` of the grants that permitted this call.
 * Each is a counter shared by every node (budget-counters.ts); a call past one is refused with 429: the task's total
 * or per-action budget spent is `ERR_BUDGET_EXHAUSTED` (`Retry-After`: until the task expires — no call of it will
 * be let through before), a per-minute limit reached is `ERR_RATE_LIMITED` (`Retry-After`: until the next minute).
 */
import { WritError, type BudgetAuthorizationDetail } from '@writ/protocol';
import type { BudgetLimits } from '../policy/index.js';
import type { BudgetCounters, CounterTake, Taken } from './budget-counters.js';

const MINUTE = 60_000;

export interface BudgetedCall {
  taskId: string;
  agentId: string;
  userId: string;
  /** The task token's expiry (epoch ms): a task's counters are kept until then. */
  tokenExpiresAt: number;
  /** The token's `writ_budget`, if any. */
  budget: BudgetAuthorizationDetail | undefined;
  /** The agent's and user's per-minute limits of the grants that permitted the call, if any. */
  rule: BudgetLimits | null;
  /** What `calls_per_action` counts: `tool search`, `GET /v1/projects/42`. */
  action: string;
}

export class CallBudgets {
  readonly #counters: BudgetCounters;
  readonly #now: () => number;

  constructor(deps: { counters: BudgetCounters; now: () => number }) {
    this.#counters = deps.counters;
    this.#now = deps.now;
  }

  /** Nothing applies to this call: no counter is touched (the common case costs nothing). */
  static applies(c: Pick<BudgetedCall, 'budget' | 'rule'>): boolean {
    return (
      c.budget !== undefined ||
      (c.rule !== null && (c.rule.agent_calls_per_minute !== undefined || c.rule.user_calls_per_minute !== undefined))
    );
  }

  /** Takes the call's units, or throws the 429 of the first counter at its cap. */
  async take(c: BudgetedCall): Promise<Taken> {
    const now = this.#now();
    const minute = Math.floor(now / MINUTE) * MINUTE;
    const takes: Array<CounterTake & { kind: 'total' | 'minute'; what: string }> = [];
    const b = c.budget;
    // A task's counters outlive its token by a minute: a token refreshed for the same task counts on.
    const taskUntil = c.tokenExpiresAt + MINUTE;
    if (b?.calls !== undefined)
      takes.push({
        key: `task:${c.taskId}:calls`,
        cap: b.calls,
        windowStart: 0,
        expiresAt: taskUntil,
        kind: 'total',
        what: `calls ${b.calls}`,
      });
    if (b?.calls_per_action !== undefined)
      takes.push({
        key: `task:${c.taskId}:action:${c.action}`,
        cap: b.calls_per_action,
        windowStart: 0,
        expiresAt: taskUntil,
        kind: 'total',
        what: `calls_per_action ${b.calls_per_action} (${c.action})`,
      });
    // A per-minute counter lives in its minute, and is kept one more so a late call of that minute still finds it.
    const perMinute = (key: string, cap: number, what: string): void =>
      void takes.push({ key, cap, windowStart: minute, expiresAt: minute + 2 * MINUTE, kind: 'minute', what: `${what} ${cap}` });
    if (b?.calls_per_minute !== undefined) perMinute(`task:${c.taskId}:minute`, b.calls_per_minute, 'calls_per_minute');
    const agentCap = c.rule?.agent_calls_per_minute;
    if (agentCap !== undefined) perMinute(`agent:${c.agentId}:minute`, agentCap, 'agent_calls_per_minute');
    const userCap = c.rule?.user_calls_per_minute;
    if (userCap !== undefined) perMinute(`user:${c.userId}:minute`, userCap, 'user_calls_per_minute');
    let result: Awaited<ReturnType<BudgetCounters['take']>>;
    try {
      result = await this.#counters.take(takes);
    } catch (err) {
      // Fail closed, and say it can pass: a call that cannot be counted is not let through uncounted.
      throw new WritError('ERR_NOT_READY', `budget counters unavailable: ${(err as Error).message ?? String(err)}`);
    }
    if (result.ok) return result.taken;
    const refused = takes[result.refused] as (typeof takes)[number];
    if (refused.kind === 'minute')
      throw new WritError('ERR_RATE_LIMITED', `${refused.what} reached`, {
        retry_after: Math.max(1, Math.ceil((minute + MINUTE - now) / 1000)),
      });
    throw new WritError('ERR_BUDGET_EXHAUSTED', `${refused.what} spent`, {
      retry_after: Math.max(1, Math.ceil((c.tokenExpiresAt - now) / 1000)),
    });
  }

  prune(): Promise<void> {
    return this.#counters.prune(this.#now());
  }
}
