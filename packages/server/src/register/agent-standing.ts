/**
 * Whether an agent may act now: the one check behind every place that lets an agent in — client authentication and
 * workload identity at the token endpoint, a delegating parent and its sub-agent, and the gateway at every call.
 */
import type { Agent } from './entities.js';

export type AgentRefusal = { kind: 'status'; detail: string } | { kind: 'expired'; detail: string };

/** Why the agent may not act at `nowMs`, or null when it may: it must be active and its registration not ended. */
export function agentRefusal(agent: Pick<Agent, 'id' | 'status' | 'expiresAt'>, nowMs: number): AgentRefusal | null {
  if (agent.status !== 'active') return { kind: 'status', detail: `agent ${agent.id} is ${agent.status}` };
  if (agent.expiresAt !== null && agent.expiresAt <= nowMs)
    return { kind: 'expired', detail: `agent ${agent.id}'s registration ended at ${new Date(agent.expiresAt).toISOString()}` };
  return null;
}
