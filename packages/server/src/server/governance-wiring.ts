/**
 * The composition of governance: call-bound approvals (the store of approvals, the owner lookup for `owner`
 * approvers, the webhook that tells approvers of every call waiting for them), observe mode's second look at each
 * call, and the posture report over the register, the lifecycle and this node's freshness.
 */
import type { Kysely } from 'kysely';
import { Approvals, type ApprovalView } from '../approvals/index.js';
import type { AuditPort } from '../audit/index.js';
import { postWithRetry } from '../audit-sinks/index.js';
import type { WritConfig } from '../config/index.js';
import type { KeyRing } from '../crypto/index.js';
import type { Logger } from '../observability/index.js';
import type { Database } from '../storage/index.js';
import { ObservedDecisions } from '../gateway/index.js';
import type { PolicyEngine } from '../policy/index.js';
import { buildPostureReport, type PostureOptions, type PostureReport } from '../posture/index.js';
import type { AgentLifecycle, Register, RegisterSnapshot } from '../register/index.js';

export interface GovernanceParts {
  approvals: Approvals;
  observed: ObservedDecisions;
  posture(o: Partial<PostureOptions>): Promise<PostureReport>;
}

const DAY = 86_400_000;

export function createGovernanceParts(d: {
  config: WritConfig;
  db: Kysely<Database>;
  /** Seals approvals' arguments and keys their digests. */
  keys: KeyRing;
  audit: AuditPort;
  publicUrl: string;
  now: () => number;
  register: Register;
  snapshot: RegisterSnapshot;
  lifecycle: AgentLifecycle;
  /** Observe mode's candidate set (a second policy worker), loaded by the register while some grant is observed. */
  candidate: PolicyEngine;
  freshness(): { current: boolean; lagMs: number | null } | null;
  fetch: typeof fetch;
  logger: Logger;
}): GovernanceParts {
  const { config, register, lifecycle } = d;
  return {
    approvals: createApprovals({
      ...d,
      ownerOf: async (id) => (d.snapshot.agent(id) ?? (await register.findAgent(id)))?.owner,
    }),
    observed: new ObservedDecisions({ candidate: d.candidate, active: () => register.observing, audit: d.audit }),
    posture: (o) =>
      buildPostureReport(
        {
          db: d.db,
          now: d.now,
          agents: () => register.listAgents(),
          grants: () => register.listGrants(),
          resources: () => register.listResources(),
          review: (r) => lifecycle.review(r),
          freshness: d.freshness,
          fixedAdminToken: config.adminToken !== undefined,
          placeholderOwners: [config.authorization.registration.owner],
        },
        {
          windowMs: 30 * DAY,
          reviewWithinMs: config.agents.reviewWithinDays * DAY,
          unusedMs: config.agents.unusedDays * DAY,
          taskMaxAgeMs: DAY,
          rotateAfterMs: 90 * DAY,
          ...o,
        },
      ),
  };
}

function createApprovals(deps: {
  config: WritConfig;
  db: Kysely<Database>;
  keys: KeyRing;
  audit: AuditPort;
  publicUrl: string;
  now: () => number;
  ownerOf(agentId: string): Promise<string | undefined>;
  fetch: typeof fetch;
  logger: Logger;
}): Approvals {
  const c = deps.config.approvals;
  const hook = c.webhook;
  const approvals: Approvals = new Approvals({
    db: deps.db,
    audit: deps.audit,
    now: deps.now,
    publicUrl: deps.publicUrl,
    pendingSeconds: c.pendingSeconds,
    approvedSeconds: c.approvedSeconds,
    ownerOf: deps.ownerOf,
    keys: deps.keys,
    ...(hook !== undefined
      ? {
          notify: (a: ApprovalView) => {
            const body = JSON.stringify({
              type: 'writ.approval.requested',
              approval: a,
              approval_url: approvals.approvalUrl(a.id),
            });
            void postWithRetry(deps.fetch, hook.url, body, {
              contentType: 'application/json',
              attempts: 5,
              firstDelayMs: 500,
              ...(hook.authorization !== undefined ? { headers: { authorization: hook.authorization } } : {}),
            }).then((outcome) => {
              if (!outcome.ok) deps.logger.warn({ approval: a.id, why: outcome.why }, 'approval webhook not delivered');
            });
          },
        }
      : {}),
  });
  return approvals;
}
