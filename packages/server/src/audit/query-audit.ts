/**
 * Reading the audit log: filtered queries over the indexed columns, and the chain of a task and everything it spawned
 *. Events come back parsed from their hashed body, with seq and hashes, in seq order.
 */
import { sql, type Kysely } from 'kysely';
import type { AdminTaskChainNode } from '@writ/protocol';
import type { AuditEventRow, Database } from '../storage/index.js';
import type { AuditEvent } from './audit-event.js';

/** An event as stored: the hashed event plus its place in the chain. */
export type AuditEntry = AuditEvent & { seq: number; prev_hash: string; hash: string };

export interface AuditQuery {
  taskId?: string;
  agentId?: string;
  userId?: string;
  traceId?: string;
  type?: string;
  decision?: 'allow' | 'deny';
  /** The resource id the event names (`resource`). */
  resource?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** At most this many events (default 100, at most 10 000). */
  limit?: number;
  /** Only events after this seq: pass the last seq of one page to get the next. */
  afterSeq?: number;
  /** Only events before this seq (with `newestFirst`, the paging of an explorer). */
  beforeSeq?: number;
  /** Newest first instead of seq order. */
  newestFirst?: boolean;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;
const IN_CHUNK = 500;

/**
 * @example
 * const denied = await queryAudit(store.db, { agentId: 'billing-bot', type: 'call.denied', since: Date.now() - 3_600_000 });
 */
export async function queryAudit(db: Kysely<Database>, q: AuditQuery = {}): Promise<AuditEntry[]> {
  const limit = q.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new TypeError(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  let query = db.selectFrom('audit_events').selectAll();
  if (q.taskId !== undefined) query = query.where('task_id', '=', q.taskId);
  if (q.agentId !== undefined) query = query.where('agent_id', '=', q.agentId);
  if (q.userId !== undefined) query = query.where('user_id', '=', q.userId);
  if (q.traceId !== undefined) query = query.where('trace_id', '=', q.traceId);
  if (q.type !== undefined) query = query.where('type', '=', q.type);
  if (q.since !== undefined) query = query.where('time', '>=', q.since);
  if (q.until !== undefined) query = query.where('time', '<', q.until);
  if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
  if (q.beforeSeq !== undefined) query = query.where('seq', '<', q.beforeSeq);
  if (q.decision !== undefined) query = query.where('decision', '=', q.decision);
  // The resource is not a column: the canonical body holds it as `"resource":"<id>"` (no spaces, JSON-escaped), which a
  // LIKE finds on either store; the parsed event decides, so text inside `data` that looks the same never matches.
  if (q.resource !== undefined)
    query = query.where(sql<boolean>`body like ${`%${likeEscape(`"resource":${JSON.stringify(q.resource)}`)}%`} escape '\\'`);
  const rows = await query
    .orderBy('seq', q.newestFirst === true ? 'desc' : 'asc')
    .limit(limit)
    .execute();
  const entries = rows.map(toEntry);
  return q.resource === undefined ? entries : entries.filter((e) => e.resource === q.resource);
}

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A task of a chain as the admin API sends it: its type is the wire type. */
export type TaskChainNode = AdminTaskChainNode;

export interface TaskChain {
  task_id: string;
  /** The task and its descendants, depth first (each parent before its children, siblings by creation). */
  tasks: TaskChainNode[];
  /** Their events, grouped by task in the order of `tasks`, each group in seq order. */
  events: AuditEntry[];
}

/**
 * The task, every task it spawned (at any depth), and their audit events, ordered for printing
 * user → agent → sub-agents → calls. Events of a task id that is no longer in the tasks table are still returned.
 *
 * @example
 * const { tasks, events } = await taskChain(store.db, 'task_3x…');
 */
export async function taskChain(db: Kysely<Database>, taskId: string): Promise<TaskChain> {
  if (typeof taskId !== 'string' || taskId === '') throw new TypeError('taskId is required');
  // `chain` holds ancestor ids as a JSON array; LIKE narrows, the parse decides (ids may contain `_`, a LIKE wildcard).
  const candidates = await db
    .selectFrom('tasks')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', taskId), eb('chain', 'like', `%${JSON.stringify(taskId)}%`)]))
    .execute();
  const rows = candidates.filter((t) => t.id === taskId || parseChain(t.chain).includes(taskId));
  const children = new Map<string | null, typeof rows>();
  for (const t of rows) {
    const key = t.id === taskId ? null : t.parent_id;
    const list = children.get(key) ?? [];
    list.push(t);
    children.set(key, list);
  }
  const tasks: TaskChainNode[] = [];
  const visit = (parent: string | null, depth: number): void => {
    const list = (children.get(parent) ?? []).sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
    for (const t of list) {
      tasks.push({
        id: t.id,
        parent_id: t.parent_id,
        depth,
        user_id: t.user_id,
        agent_id: t.agent_id,
        resource_id: t.resource_id,
        purpose: t.purpose,
        status: t.status,
        created_at: t.created_at,
      });
      visit(t.id, depth + 1);
    }
  };
  visit(null, 0);

  const ids = tasks.length > 0 ? tasks.map((t) => t.id) : [taskId];
  const byTask = new Map<string, AuditEntry[]>();
  for (let i = 0; i < ids.length; i += IN_CHUNK) {
    const rowsOfChunk = await db
      .selectFrom('audit_events')
      .selectAll()
      .where('task_id', 'in', ids.slice(i, i + IN_CHUNK))
      .orderBy('seq')
      .execute();
    for (const r of rowsOfChunk) {
      const list = byTask.get(r.task_id as string) ?? [];
      list.push(toEntry(r));
      byTask.set(r.task_id as string, list);
    }
  }
  return { task_id: taskId, tasks, events: ids.flatMap((id) => byTask.get(id) ?? []) };
}

function parseChain(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function toEntry(r: AuditEventRow): AuditEntry {
  let event: AuditEvent;
  try {
    event = JSON.parse(r.body) as AuditEvent;
  } catch {
    // A tampered, unparsable body must not break reading the rest; verification reports it.
    event = {
      id: r.id,
      time: r.time,
      type: r.type,
      trace_id: r.trace_id ?? '',
      ...(r.task_id !== null ? { task_id: r.task_id } : {}),
      ...(r.agent_id !== null ? { agent_id: r.agent_id } : {}),
      ...(r.user_id !== null ? { user_id: r.user_id } : {}),
      ...(r.decision === 'allow' || r.decision === 'deny' ? { decision: r.decision } : {}),
      ...(r.reason !== null ? { reason: r.reason } : {}),
      detail: 'unparsable body',
    };
  }
  return { ...event, seq: r.seq, prev_hash: r.prev_hash, hash: r.hash };
}
