/**
 * The approvals part of the admin API: the calls held back for a person's approval, and — for approvals whose grant
 * names `admin` among the approvers — approving or denying them as an operator. Everyone else decides on Writ's
 * approval page, signed in at the identity provider.
 */
import { z } from 'zod';
import { ApprovalError, type ApprovalView } from '../approvals/index.js';
import { AdminError } from '../errors/index.js';
import { actor } from './actor.js';
import type { AdminRoute, AdminServices } from './routes.js';

const listQuery = z.strictObject({
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'used']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const decisionInput = z.strictObject({ reason: z.string().min(1).max(500) });

async function find(services: AdminServices, id: string): Promise<ApprovalView> {
  const a = await services.approvals.get(id);
  if (a === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no approval ${id}`);
  return a;
}

function decide(approve: boolean): AdminRoute['handler'] {
  return async ({ params, body, principal, services }) => {
    try {
      return await services.approvals.decide(params['id'] as string, {
        approve,
        who: { kind: 'admin', actor: actor(principal) },
        reason: (body as z.output<typeof decisionInput>).reason,
      });
    } catch (err) {
      if (!(err instanceof ApprovalError)) throw err;
      const code =
        err.code === 'not_found' ? 'ERR_ADMIN_NOT_FOUND' : err.code === 'forbidden' ? 'ERR_ADMIN_FORBIDDEN' : 'ERR_ADMIN_CONFLICT';
      throw new AdminError(code, err.message);
    }
  };
}

export const APPROVAL_ROUTES: AdminRoute[] = [
  {
    method: 'GET',
    url: '/approvals',
    tag: 'approvals',
    summary: 'Calls held back for approval, newest first (status as it stands now: pending, approved, denied, expired, used)',
    query: listQuery,
    handler: ({ query, services }) => {
      const q = query as z.output<typeof listQuery>;
      return services.approvals.list({ limit: q.limit, ...(q.status !== undefined ? { status: q.status } : {}) });
    },
  },
  {
    method: 'GET',
    url: '/approvals/:id',
    tag: 'approvals',
    summary: 'One approval: the exact call (resource, action, target, arguments, the task and its chain), who may decide, the decision',
    handler: ({ params, services }) => find(services, params['id'] as string),
  },
  {
    method: 'POST',
    url: '/approvals/:id/approve',
    tag: 'approvals',
    summary:
      "Approve a pending call as an operator (only where the grant's @approval names admin): the same call, sent again, goes through once",
    body: decisionInput,
    handler: decide(true),
  },
  {
    method: 'POST',
    url: '/approvals/:id/deny',
    tag: 'approvals',
    summary: "Deny a pending call as an operator (only where the grant's @approval names admin)",
    body: decisionInput,
    handler: decide(false),
  },
];
