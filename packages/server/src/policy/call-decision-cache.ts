/**
 * Call-time decisions without a Cedar evaluation per call, deciding exactly as Cedar would. A decision depends only
 * on the policy set, the entities, and the request; the key holds the policy-set version, the caller's entities
 * version (the register version: any change to agents or resources changes it), principal, action, resource, the
 * context attributes some policy can read (from context-use.ts), and — when a policy reads `context.user` — the user
 * entity's attributes (they come from the task token, not the register). Everything else cannot change the answer.
 * A hit answers synchronously; a miss asks the worker once (concurrent misses share one evaluation).
 */
import type { PolicyEngine } from './policy-engine.js';
import type { CedarRequest, Decision } from './types.js';
import { canonical, requestKey } from './decision-key.js';

export interface CallDecisionCache {
  decide(req: CedarRequest, entitiesVersion: string): Decision | Promise<Decision>;
  stats(): { hits: number; misses: number; size: number };
  clear(): void;
}

export function createCallDecisionCache(engine: PolicyEngine, opts: { maxEntries?: number } = {}): CallDecisionCache {
  const max = opts.maxEntries ?? 100_000;
  const entries = new Map<string, Decision>();
  const inflight = new Map<string, Promise<Decision>>();
  let hits = 0;
  let misses = 0;
  let seenVersion = -1;

  const keyOf = (req: CedarRequest, entitiesVersion: string): string => {
    const use = engine.contextUse;
    // The user entity is reachable only through `context.user`: its attributes matter only when a policy reads it.
    const user = use.all || use.attributes.includes('user') ? userAttributes(req) : '';
    return `${engine.version}\u0000${entitiesVersion}\u0000${requestKey(req, use)}\u0000${user}`;
  };

  return {
    decide(req, entitiesVersion) {
      if (engine.version !== seenVersion) {
        // Entries of an older policy set can never be hit again; drop them rather than let them age out.
        entries.clear();
        seenVersion = engine.version;
      }
      const key = keyOf(req, entitiesVersion);
      const hit = entries.get(key);
      if (hit !== undefined) {
        hits++;
        return hit;
      }
      misses++;
      let p = inflight.get(key);
      if (p === undefined) {
        const version = engine.version;
        p = engine.authorize([req]).then(
          ([d]) => {
            inflight.delete(key);
            const decision = d ?? { decision: 'deny' as const, reasons: [], errors: ['no answer'] };
            // Only cache what was decided under the policy set the key names.
            if (engine.version === version && decision.errors.length === 0) {
              if (entries.size >= max) entries.delete(entries.keys().next().value as string);
              entries.set(key, decision);
            }
            return decision;
          },
          (err: unknown) => {
            inflight.delete(key);
            return { decision: 'deny' as const, reasons: [], errors: [`policy engine: ${(err as Error)?.message ?? String(err)}`] };
          },
        );
        inflight.set(key, p);
      }
      return p;
    },
    stats: () => ({ hits, misses, size: entries.size }),
    clear: () => entries.clear(),
  };
}

/** The user entity's attributes, canonical: the one entity of a call that the register version does not cover. */
function userAttributes(req: CedarRequest): string {
  for (const e of req.entities) if (e.uid.type === 'Writ::User') return canonical(e.attrs);
  return '';
}
