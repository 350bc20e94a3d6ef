/**
 * The agents part of the admin API: the register of agents with their lifecycle (owner, end date, review date, last
 * use), what is due for review, the spawn tree, and the status changes that stop an agent everywhere.
 */
import { z } from 'zod';
import { agentInput, agentStatusInput, agentUpdateInput } from '../register/index.js';
import { actor } from './actor.js';
import type { AdminRoute } from './routes.js';

const DAY_MS = 86_400_000;

const spawnTreeQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

const reviewQuery = z.strictObject({
  /** Ends and reviews due within this many days are listed (default: `agents.reviewWithinDays`). */
  within: z.coerce.number().int().min(0).max(3650).optional(),
  /** Agents that have not acted for this many days are listed (default: `agents.unusedDays`). */
  unused: z.coerce.number().int().min(1).max(3650).optional(),
});

export const AGENT_ROUTES: AdminRoute[] = [
  {
    method: 'GET',
    url: '/agents',
    tag: 'agents',
    summary: 'List registered agents',
    handler: async ({ services }) => (await services.register.listAgents()).map((a) => services.lifecycle.withLastUse(a)),
  },
  {
    method: 'POST',
    url: '/agents',
    tag: 'agents',
    summary: 'Register an agent (public JWKS for private_key_jwt), with its owner and, optionally, an end date and a review date',
    body: agentInput,
    status: 201,
    handler: ({ body, principal, services }) => services.register.createAgent(body as z.input<typeof agentInput>, actor(principal)),
  },
  {
    method: 'GET',
    url: '/agents/review',
    tag: 'agents',
    summary:
      'Agents due for attention: registration ended or ending, review due, owner offboarded, never or long unused (offboarded agents are not listed)',
    query: reviewQuery,
    handler: ({ query, services }) => {
      const q = query as z.output<typeof reviewQuery>;
      const d = services.agentDefaults;
      return services.lifecycle.review({
        withinMs: (q.within ?? d.reviewWithinDays) * DAY_MS,
        unusedMs: (q.unused ?? d.unusedDays) * DAY_MS,
      });
    },
  },
  {
    method: 'GET',
    url: '/agents/:id',
    tag: 'agents',
    summary: 'Show an agent',
    handler: async ({ params, services }) => services.lifecycle.withLastUse(await services.register.getAgent(params['id'] as string)),
  },
  {
    method: 'PATCH',
    url: '/agents/:id',
    tag: 'agents',
    summary:
      "Change an agent's name, owner, description, end date or review date (null removes a date); a new owner clears an offboarded flag",
    body: agentUpdateInput,
    handler: ({ params, body, principal, services }) => services.lifecycle.update(params['id'] as string, body, actor(principal)),
  },
  {
    method: 'GET',
    url: '/agents/:id/spawn-tree',
    tag: 'agents',
    summary:
      "Which sub-agents this agent spawned (and they in turn), for which user and task: the agent's tasks, newest first, each with its delegations",
    query: spawnTreeQuery,
    handler: async ({ params, query, services }) => {
      const id = params['id'] as string;
      await services.register.getAgent(id); // 404 for an agent the register does not know
      return services.tasks.spawnTree(id, (query as z.output<typeof spawnTreeQuery>).limit);
    },
  },
  {
    method: 'POST',
    url: '/agents/:id/status',
    tag: 'agents',
    summary: 'Suspend, offboard or reactivate an agent; leaving `active` revokes every token it holds',
    body: agentStatusInput,
    handler: async ({ params, body, principal, services }) => {
      const id = params['id'] as string;
      const input = body as z.output<typeof agentStatusInput>;
      const agent = await services.register.setAgentStatus(id, input, actor(principal));
      if (input.status !== 'active')
        await services.revocations.revoke(
          { type: 'agent', agentId: id },
          { reason: input.reason ?? `agent ${input.status}`, actor: actor(principal) },
        );
      return agent;
    },
  },
];
