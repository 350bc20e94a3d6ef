/**
 * The revocation part of the admin API: revoke any target (a credential, a task subtree, an agent, a user, a DPoP key,
 * everything, or one resource's tool), list the log, and lift a killed tool — the one revocation that can be undone,
 * since it is about a capability and not a credential.
 */
import { z } from 'zod';
import { canonicalPathPattern, PathPatternError } from '@writ/verify/internal';
import { AdminError } from '../errors/index.js';
import { registerId } from '../ids/index.js';
import type { Resource } from '../register/index.js';
import type { ToolTarget } from '../revocation/index.js';
import { actor } from './actor.js';
import type { AdminRoute, AdminServices } from './routes.js';

/** Printable, no control characters: a tool name or `<METHOD> <path pattern>` as an operator types it. */
const toolName = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[^\p{Cc}]+$/u, 'no control characters');

const toolTarget = z.strictObject({ type: z.literal('tool'), resourceId: registerId, tool: toolName });

const revocationInput = z.strictObject({
  target: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('token'), jti: z.string().min(1).max(200) }),
    z.strictObject({ type: z.literal('task'), taskId: z.string().min(1).max(200) }),
    z.strictObject({ type: z.literal('agent'), agentId: registerId }),
    z.strictObject({ type: z.literal('user'), userId: z.string().min(1).max(400) }),
    z.strictObject({ type: z.literal('key'), jkt: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a JWK SHA-256 thumbprint') }),
    z.strictObject({ type: z.literal('all') }),
    toolTarget,
  ]),
  reason: z.string().min(1).max(500),
});

const liftInput = z.strictObject({ target: toolTarget, reason: z.string().min(1).max(500) });

const HTTP_ACTION = /^([A-Za-z]+|\*) +(\/\S*)$/;

/**
 * The tool as the log keeps it, so that a kill and its lift name it alike: an MCP tool's exact name (at most 128
 * characters, as MCP allows); an HTTP resource's action as `<METHOD> <canonical path pattern>`, method upper-cased.
 */
async function canonicalTool(services: AdminServices, target: z.output<typeof toolTarget>): Promise<ToolTarget> {
  const resource: Resource = await services.register.getResource(target.resourceId);
  if (resource.kind === 'mcp') {
    if (target.tool.length > 128 || /\s/.test(target.tool))
      throw new AdminError('ERR_ADMIN_INVALID_REQUEST', 'an MCP tool name: at most 128 characters, no spaces');
    return { type: 'tool', resourceId: resource.id, tool: target.tool };
  }
  const m = HTTP_ACTION.exec(target.tool);
  if (m === null)
    throw new AdminError('ERR_ADMIN_INVALID_REQUEST', 'an HTTP action: "<METHOD> <path pattern>", e.g. "DELETE /v1/projects/*"');
  try {
    const method = (m[1] as string).toUpperCase();
    return { type: 'tool', resourceId: resource.id, tool: `${method} ${canonicalPathPattern(m[2] as string)}` };
  } catch (err) {
    if (err instanceof PathPatternError) throw new AdminError('ERR_ADMIN_INVALID_REQUEST', `path pattern: ${err.message}`);
    throw err;
  }
}

/**
 * A user revocation is also their offboarding as an owner: each agent they own is flagged, and suspended (every token
 * it holds revoked) when `agents.onOwnerOffboarded` says `suspend`.
 */
async function offboardOwner(services: AdminServices, userId: string, by: string): Promise<void> {
  const reason = `owner ${userId} offboarded`;
  await services.lifecycle.ownerOffboarded(userId, by, async (agentId) => {
    await services.register.setAgentStatus(agentId, { status: 'suspended', reason }, by);
    await services.revocations.revoke({ type: 'agent', agentId }, { reason, actor: by });
  });
}

export const REVOCATION_ROUTES: AdminRoute[] = [
  {
    method: 'POST',
    url: '/revocations',
    tag: 'revocation',
    summary: "Revoke a credential, task subtree, agent, user, DPoP key, everything, or one resource's tool or action",
    body: revocationInput,
    status: 201,
    handler: async ({ body, principal, services }) => {
      const input = body as z.output<typeof revocationInput>;
      const target = input.target;
      if (target.type === 'task') {
        // Ending the task revokes it (and its subtree); answer with that revocation, or make one for an ended task.
        await services.tasks.end(target.taskId, { status: 'revoked', reason: input.reason, actor: actor(principal) });
        const inForce = await services.revocations.inForce(target);
        if (inForce !== undefined) return inForce;
      }
      if (target.type === 'agent') {
        await services.register.getAgent(target.agentId);
        await services.register.setAgentStatus(target.agentId, { status: 'suspended', reason: input.reason }, actor(principal));
      }
      const resolved = target.type === 'tool' ? await canonicalTool(services, target) : target;
      const record = await services.revocations.revoke(resolved, { reason: input.reason, actor: actor(principal) });
      if (target.type === 'user') await offboardOwner(services, target.userId, actor(principal));
      return record;
    },
  },
  {
    method: 'POST',
    url: '/revocations/lift',
    tag: 'revocation',
    summary: 'Lift a killed tool or action: it answers again on every node (404 when it is not killed)',
    body: liftInput,
    handler: async ({ body, principal, services }) => {
      const input = body as z.output<typeof liftInput>;
      const target = await canonicalTool(services, input.target);
      const lifted = await services.revocations.lift(target, { reason: input.reason, actor: actor(principal) });
      if (lifted === undefined)
        throw new AdminError('ERR_ADMIN_NOT_FOUND', `no kill of ${target.resourceId} ${JSON.stringify(target.tool)} is in force`);
      return lifted;
    },
  },
  {
    method: 'GET',
    url: '/revocations',
    tag: 'revocation',
    summary: 'List the revocation log',
    handler: ({ services }) => services.revocations.list({ limit: 1000 }),
  },
];
