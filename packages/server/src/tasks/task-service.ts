/**
 * Tasks: one unit of work a user (or a parent task) asked an agent to do. Ending a task — completed by its agent,
 * revoked by an operator — is a revocation of the task id, which every token of the task and of every descendant
 * carries in `task_chain`; the statuses of the whole subtree change with it.
 */
import type { Kysely } from 'kysely';
import type { TaskAuthorizationDetail } from '@writ/protocol';
import { AdminError } from '../errors/index.js';
import type { AuditPort } from '../audit/index.js';
import type { RevocationService } from '../revocation/index.js';
import type { Database, TaskRow } from '../storage/index.js';
import { spawnTree, type SpawnTree } from './spawn-tree.js';

export interface Task {
  id: string;
  parentId: string | null;
  chain: string[];
  userId: string;
  agentId: string;
  resourceId: string;
  purpose: string;
  authorizationDetails: TaskAuthorizationDetail[];
  status: TaskRow['status'];
  createdAt: number;
  expiresAt: number;
  endedAt: number | null;
  endReason: string | null;
}

export interface TaskQuery {
  agentId?: string | undefined;
  userId?: string | undefined;
  status?: TaskRow['status'] | undefined;
  limit?: number | undefined;
}

export class TaskService {
  readonly #db: Kysely<Database>;
  readonly #revocations: RevocationService;
  readonly #now: () => number;
  readonly #audit: AuditPort;

  constructor(deps: { db: Kysely<Database>; revocations: RevocationService; audit: AuditPort; now?: () => number }) {
    this.#db = deps.db;
    this.#revocations = deps.revocations;
    this.#audit = deps.audit;
    this.#now = deps.now ?? Date.now;
  }

  async get(id: string): Promise<Task> {
    const row = await this.#db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no task ${id}`);
    return this.#withExpiry(taskFromRow(row));
  }

  async list(q: TaskQuery = {}): Promise<Task[]> {
    let query = this.#db.selectFrom('tasks').selectAll();
    if (q.agentId !== undefined) query = query.where('agent_id', '=', q.agentId);
    if (q.userId !== undefined) query = query.where('user_id', '=', q.userId);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    const rows = await query
      .orderBy('created_at', 'desc')
      .limit(Math.min(q.limit ?? 100, 1000))
      .execute();
    return rows.map((r) => this.#withExpiry(taskFromRow(r)));
  }

  /** Ends a task and its subtree. `completed` when its agent says it is done, `revoked` when an operator stops it. */
  async end(id: string, how: { status: 'completed' | 'revoked'; reason: string; actor: string }): Promise<Task> {
    const task = await this.get(id);
    if (task.status === 'active') {
      await this.#revocations.revoke({ type: 'task', taskId: id }, { reason: how.reason, actor: how.actor });
      const now = this.#now();
      const ids = [id, ...(await this.#descendantIds(id))];
      await this.#db
        .updateTable('tasks')
        .set({ status: how.status, ended_at: now, end_reason: how.reason })
        .where('id', 'in', ids)
        .where('status', '=', 'active')
        .execute();
      this.#audit.record({
        type: how.status === 'completed' ? 'task.completed' : 'task.revoked',
        task_id: id,
        user_id: task.userId,
        agent_id: task.agentId,
        actor_chain: [how.actor],
        ...(how.status === 'revoked' ? { decision: 'deny' as const } : {}),
        reason: how.reason,
        data: { descendants: ids.length - 1 },
      });
    }
    return this.get(id);
  }

  /** Which agent spawned which sub-agent, for which user and task, from `agentId`'s tasks down (spawn-tree.ts). */
  spawnTree(agentId: string, limit?: number): Promise<SpawnTree> {
    return spawnTree(this.#db, agentId, { now: this.#now(), ...(limit !== undefined ? { limit } : {}) });
  }

  async #descendantIds(id: string): Promise<string[]> {
    // Task ids are random base64url, so a JSON-quoted id cannot occur by accident inside another chain.
    const rows = await this.#db
      .selectFrom('tasks')
      .select('id')
      .where('chain', 'like', `%${JSON.stringify(id)}%`)
      .execute();
    return rows.map((r) => r.id);
  }

  #withExpiry(t: Task): Task {
    return t.status === 'active' && t.expiresAt <= this.#now() ? { ...t, status: 'expired' } : t;
  }
}

function taskFromRow(r: TaskRow): Task {
  return {
    id: r.id,
    parentId: r.parent_id,
    chain: JSON.parse(r.chain) as string[],
    userId: r.user_id,
    agentId: r.agent_id,
    resourceId: r.resource_id,
    purpose: r.purpose,
    authorizationDetails: JSON.parse(r.authorization_details) as TaskAuthorizationDetail[],
    status: r.status,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    endedAt: r.ended_at,
    endReason: r.end_reason,
  };
}
