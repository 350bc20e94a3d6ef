/**
 * Issuance-time decisions without a round trip to the policy worker for questions already answered, deciding
 * exactly as Cedar would. Unlike the gateway's call-decision cache, the entities of an issuance request are not all
 * register data (the user entity carries claims of the user's token, such as `email`), so the key holds the request's
 * entities in full instead of a register version: policy-set version, principal, action, resource, the context
 * attributes some policy can read, and every entity with its attributes and parents. A Cedar decision is a function
 * of exactly the policy set, the entities and the request, so nothing else can change the answer.
 *
 * Misses of one batch go to the worker as one batch (one round trip), concurrent misses of the same question share
 * one evaluation, and decisions with evaluation errors are never kept. When the engine fails, every caller waiting on
 * that batch gets the engine's error, as it would have from the engine itself.
 */
import type { PolicyEngine } from './policy-engine.js';
import type { CedarRequest, Decision } from './types.js';
import type { BudgetLimits } from './budget-annotation.js';
import { canonical, requestKey } from './decision-key.js';

export interface IssuanceDecisionCache {
  /** Same contract as PolicyEngine.authorize: one decision per request, in order; rejects when the engine does. */
  authorize(requests: CedarRequest[]): Promise<Decision[]>;
  /** The engine's own: the `@budget` limits of a decision's determining policies. */
  budgetRule?(reasons: readonly string[]): BudgetLimits | null;
  stats(): { hits: number; misses: number; size: number };
  clear(): void;
}

export function createIssuanceDecisionCache(
  engine: Pick<PolicyEngine, 'authorize' | 'version' | 'contextUse'> & Partial<Pick<PolicyEngine, 'budgetRule'>>,
  opts: { maxEntries?: number } = {},
): IssuanceDecisionCache {
  const max = opts.maxEntries ?? 50_000;
  const entries = new Map<string, Decision>();
  const inflight = new Map<string, Promise<Decision>>();
  let hits = 0;
  let misses = 0;
  let seenVersion = -1;

  const keyOf = (req: CedarRequest): string =>
    `${engine.version}\u0000${requestKey(req, engine.contextUse)}\u0000${canonical(req.entities)}`;

  const store = (key: string, version: number, d: Decision): void => {
    // Only what was decided under the policy set the key names, and never an answer that carries errors.
    if (engine.version !== version || d.errors.length > 0) return;
    if (entries.size >= max) entries.delete(entries.keys().next().value as string);
    // Shared by every later hit: frozen, so no caller can change another's answer.
    const frozen = { decision: d.decision, reasons: Object.freeze([...d.reasons]), errors: Object.freeze([]) };
    entries.set(key, Object.freeze(frozen) as unknown as Decision);
  };

  return {
    ...(engine.budgetRule !== undefined ? { budgetRule: (reasons: readonly string[]) => engine.budgetRule?.(reasons) ?? null } : {}),
    async authorize(requests) {
      if (engine.version !== seenVersion) {
        // Entries of an older policy set can never be hit again.
        entries.clear();
        seenVersion = engine.version;
      }
      const version = engine.version;
      const out: Decision[] = new Array<Decision>(requests.length);
      const waiting: Array<[number, Promise<Decision>]> = [];
      const missed: Array<{ key: string; req: CedarRequest; resolve: (d: Decision) => void; reject: (e: unknown) => void }> = [];
      for (const [i, req] of requests.entries()) {
        const key = keyOf(req);
        const hit = entries.get(key);
        if (hit !== undefined) {
          hits++;
          out[i] = hit;
          continue;
        }
        misses++;
        let p = inflight.get(key);
        if (p === undefined) {
          let resolve!: (d: Decision) => void;
          let reject!: (e: unknown) => void;
          p = new Promise<Decision>((res, rej) => {
            resolve = res;
            reject = rej;
          });
          // A sharer that is not awaited yet must not make the rejection "unhandled"; each awaiter still sees it.
          p.catch(() => undefined);
          inflight.set(key, p);
          missed.push({ key, req, resolve, reject });
        }
        waiting.push([i, p]);
      }
      if (missed.length > 0) {
        let answers: Decision[];
        try {
          answers = await engine.authorize(missed.map((m) => m.req));
        } catch (err) {
          for (const m of missed) {
            inflight.delete(m.key);
            m.reject(err);
          }
          throw err;
        }
        for (const [i, m] of missed.entries()) {
          inflight.delete(m.key);
          const d = answers[i] ?? { decision: 'deny' as const, reasons: [], errors: ['no answer'] };
          store(m.key, version, d);
          m.resolve(d);
        }
      }
      for (const [i, p] of waiting) out[i] = await p;
      return out;
    },
    stats: () => ({ hits, misses, size: entries.size }),
    clear: () => entries.clear(),
  };
}
