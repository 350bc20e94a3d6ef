/**
 * `@budget` on a grant's `permit`: how much the calls it permits may do. Task limits (`calls`, `calls_per_minute`,
 * `calls_per_action`) go into the task token at issuance, from every `@budget` policy behind what was granted
 * (the tightest of each), narrowed by the request; the agent's and the user's per-minute limits
 * (`agent_calls_per_minute`, `user_calls_per_minute`) are read at each call from the policies that permitted it.
 *
 * @example
 * @budget("calls=500, calls_per_minute=30, user_calls_per_minute=120")
 * permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"github");
 */
export const BUDGET_ANNOTATION = 'budget';

export const BUDGET_KEYS = ['calls', 'calls_per_minute', 'calls_per_action', 'agent_calls_per_minute', 'user_calls_per_minute'] as const;
export type BudgetKey = (typeof BUDGET_KEYS)[number];
export type BudgetLimits = Partial<Record<BudgetKey, number>>;

/** The largest limit a budget may state (beyond it, no budget at all is the honest setting). */
export const MAX_BUDGET = 1_000_000_000;

/** The limits an annotation value states, or the reason it is not acceptable. */
export function parseBudget(value: string | null): BudgetLimits | string {
  if (value === null || value.trim() === '') return '@budget needs at least one limit, e.g. @budget("calls=100")';
  const out: BudgetLimits = {};
  for (const raw of value.split(',')) {
    const m = /^\s*([a-z_]+)\s*=\s*(\d{1,10})\s*$/.exec(raw);
    const key = m?.[1] as BudgetKey | undefined;
    if (m === null || key === undefined || !(BUDGET_KEYS as readonly string[]).includes(key))
      return `@budget: ${JSON.stringify(raw.trim().slice(0, 60))} is not <limit>=<n> with a limit among ${BUDGET_KEYS.join(', ')}`;
    const n = Number(m[2]);
    if (n < 1 || n > MAX_BUDGET) return `@budget: ${key} must be from 1 to ${MAX_BUDGET}`;
    if (out[key] !== undefined) return `@budget: ${key} given twice`;
    out[key] = n;
  }
  return out;
}

/** The tightest of each limit among the determining policies' budgets; null when none states any. */
export function budgetRuleFor(reasons: readonly string[], byPolicy: ReadonlyMap<string, BudgetLimits>): BudgetLimits | null {
  let rule: BudgetLimits | null = null;
  for (const id of reasons) {
    const b = byPolicy.get(id);
    if (b === undefined) continue;
    rule = tightest(rule ?? {}, b);
  }
  return rule;
}

/** Each limit the tighter of the two (a limit one side lacks is the other's). */
export function tightest(a: BudgetLimits, b: BudgetLimits): BudgetLimits {
  const out: BudgetLimits = { ...a };
  for (const k of BUDGET_KEYS) {
    const v = b[k];
    if (v !== undefined) out[k] = Math.min(out[k] ?? Infinity, v);
  }
  return out;
}
