/**
 * Observe mode at call time: the candidate policy set — the enforced grants and the observed ones together — is asked
 * the same question as the enforced set, after the enforced decision is made and without delaying or changing it.
 * Every call where the two differ is recorded (`policy.observed`, with both decisions and the policies behind the
 * candidate's), which is what `writ grants observe-report` summarises. Since the candidate set holds every enforced
 * policy, a difference is always an observed grant's doing: its permit would allow what is denied now, or its forbid
 * would deny what is allowed now.
 */
import { actorsOf, type TaskTokenClaims } from '@writ/protocol';
import type { AuditPort } from '../audit/index.js';
import {
  createCallDecisionCache,
  type CallDecisionCache,
  type CedarRequest,
  type Decision,
  type PolicyEngine,
  type RecordType,
} from '../policy/index.js';

export interface ObservedDecisionsDeps {
  /** The candidate set (register.ts loads it only while some grant is observed). */
  candidate: PolicyEngine;
  /** True while some grant is observed. */
  active(): boolean;
  audit: AuditPort;
}

export class ObservedDecisions {
  readonly #d: ObservedDecisionsDeps;
  readonly #cache: CallDecisionCache;
  /** Observations not yet recorded: what `settled` waits for (an audit flush includes them). */
  readonly #inflight = new Set<Promise<void>>();

  constructor(deps: ObservedDecisionsDeps) {
    this.#d = deps;
    this.#cache = createCallDecisionCache(deps.candidate, { maxEntries: 50_000 });
  }

  get active(): boolean {
    return this.#d.active();
  }

  /** How the candidate set puts a tool's arguments to its grants (an observed grant may be the only one that does). */
  toolArguments(resourceId: string, tool: string): RecordType | null | undefined {
    return this.#d.candidate.toolArguments(resourceId, tool);
  }

  /**
   * Asks the candidate set, then records a difference from `enforced`, each read by `outcome` (a narrowing question,
   * a tool's own action, refuses only by a forbid: policy/tool-arguments.ts). Never throws and never waits on the caller's
   * path: an error of the candidate set is an error of observing, not of the call.
   */
  observe(
    request: CedarRequest,
    entitiesVersion: string,
    enforced: Decision,
    call: { claims: TaskTokenClaims; resourceId: string; action: string },
    outcome: (d: Decision) => 'allow' | 'deny' = (d) => d.decision,
  ): void {
    const done: Promise<void> = (async () => {
      const pending = this.#cache.decide(request, entitiesVersion);
      const observed = pending instanceof Promise ? await pending : pending;
      if (observed.errors.length > 0 || outcome(observed) === outcome(enforced)) return;
      const c = call.claims;
      this.#d.audit.record({
        type: 'policy.observed',
        task_id: c.task_id,
        agent_id: c.client_id,
        user_id: c.sub,
        actor_chain: [c.sub, ...actorsOf(c.act)],
        resource: call.resourceId,
        action: call.action,
        decision: outcome(enforced),
        reason: outcome(observed) === 'allow' ? 'would_allow' : 'would_deny',
        data: {
          enforced: outcome(enforced),
          observed: outcome(observed),
          enforced_policies: enforced.reasons,
          observed_policies: observed.reasons,
        },
      });
    })()
      .catch(() => undefined)
      .finally(() => this.#inflight.delete(done));
    this.#inflight.add(done);
  }

  /** Resolves once every observation started so far is recorded (or given up). */
  async settled(): Promise<void> {
    await Promise.all([...this.#inflight]);
  }
}
