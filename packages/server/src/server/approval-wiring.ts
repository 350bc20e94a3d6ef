/**
 * The composition of call-bound approvals: the store of approvals, the owner lookup for `owner` approvers, and the
 * webhook that tells approvers of every call waiting for them (a chat bot, a ticketing system).
 */
import type { Kysely } from 'kysely';
import { Approvals, type ApprovalView } from '../approvals/index.js';
import type { AuditPort } from '../audit/index.js';
import { postWithRetry } from '../audit-sinks/index.js';
import type { WritConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import type { Database } from '../storage/index.js';

export function createApprovals(deps: {
  config: WritConfig;
  db: Kysely<Database>;
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
