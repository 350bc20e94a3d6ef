/**
 * The spawn tree: which agent spawned which sub-agent, for which user and task. Every delegation is a task whose
 * `parent_id` is the delegating task, so the tree is read from the tasks themselves — nothing is recorded twice, and
 * what revocation walks (a task's subtree, by `chain`) is exactly what this shows.
 */
import type { Kysely } from 'kysely';
import type { Database, TaskRow } from '../storage/index.js';

export interface SpawnNode {
  task: string;
  agent: string;
  user: string;
  purpose: string;
  status: TaskRow['status'];
  created_at: number;
  /** The sub-agents this task delegated to, each with its own subtree. */
  spawned: SpawnNode[];
}

export interface SpawnTree {
  agent: string;
  /** The agent's own tasks (newest first), each with what it spawned; a task the agent was itself delegated names its spawner. */
  tasks: Array<SpawnNode & { spawned_by?: { task: string; agent: string } }>;
  /** More tasks or descendants existed than were read (`limit`): the tree shown is the newest part. */
  truncated: boolean;
}

const CHUNK = 500;

/**
 * @example
 * const tree = await spawnTree(db, 'planner', { limit: 1000 });
 * tree.tasks[0].spawned[0].agent // 'worker'
 */
export async function spawnTree(db: Kysely<Database>, agentId: string, o: { limit?: number; now?: number } = {}): Promise<SpawnTree> {
  const limit = o.limit ?? 1000;
  const now = o.now ?? Date.now();
  const roots = await db
    .selectFrom('tasks')
    .selectAll()
    .where('agent_id', '=', agentId)
    .orderBy('created_at', 'desc')
    .limit(limit + 1)
    .execute();
  let truncated = roots.length > limit;
  const kept = roots.slice(0, limit);
  const nodes = new Map<string, SpawnNode>();
  const node = (r: TaskRow): SpawnNode => {
    const n: SpawnNode = {
      task: r.id,
      agent: r.agent_id,
      user: r.user_id,
      purpose: r.purpose,
      status: r.status === 'active' && r.expires_at <= now ? 'expired' : r.status,
      created_at: r.created_at,
      spawned: [],
    };
    nodes.set(r.id, n);
    return n;
  };
  const out: SpawnTree['tasks'] = kept.map(node);
  // Breadth first, a level at a time: delegation depth is bounded by configuration, and so is the count here.
  let frontier = kept.map((r) => r.id);
  while (frontier.length > 0 && !truncated) {
    const next: string[] = [];
    for (let i = 0; i < frontier.length; i += CHUNK) {
      const children = await db
        .selectFrom('tasks')
        .selectAll()
        .where('parent_id', 'in', frontier.slice(i, i + CHUNK))
        .orderBy('created_at')
        .execute();
      for (const c of children) {
        if (nodes.has(c.id)) continue; // the agent's own task under another of its tasks: listed once, as a root
        if (nodes.size >= limit) {
          truncated = true;
          break;
        }
        nodes.get(c.parent_id ?? '')?.spawned.push(node(c));
        next.push(c.id);
      }
    }
    frontier = next;
  }
  // Who spawned the agent's own delegated tasks.
  const parents = kept.map((r) => r.parent_id).filter((p): p is string => p !== null);
  for (let i = 0; i < parents.length; i += CHUNK) {
    const rows = await db
      .selectFrom('tasks')
      .select(['id', 'agent_id'])
      .where('id', 'in', parents.slice(i, i + CHUNK))
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r.agent_id]));
    for (const [k, r] of kept.entries()) {
      const spawner = r.parent_id === null ? undefined : byId.get(r.parent_id);
      const root = out[k];
      if (spawner !== undefined && r.parent_id !== null && root !== undefined) root.spawned_by = { task: r.parent_id, agent: spawner };
    }
  }
  return { agent: agentId, tasks: out, truncated };
}
