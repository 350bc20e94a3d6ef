/**
 * Tasks: the live tree of tasks and the sub-tasks agents delegated, updating as it changes, with a kill at every node
 * — the task (and everything under it), its agent, its user — each confirmed with what will stop.
 */
import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import {
  ConfirmButton,
  ErrorNote,
  Loading,
  PageTitle,
  Status,
  Time,
  useCanChange,
  useConfirm,
  useData,
  type ConfirmRequest,
} from '../ui.js';
import type { Task } from '../types.js';

interface Node {
  task: Task;
  children: Node[];
}

function forest(tasks: Task[]): Node[] {
  const nodes = new Map(tasks.map((t) => [t.id, { task: t, children: [] as Node[] }]));
  const roots: Node[] = [];
  for (const n of nodes.values()) {
    const parent = n.task.parentId === null ? undefined : nodes.get(n.task.parentId);
    (parent?.children ?? roots).push(n);
  }
  return roots;
}

function size(n: Node): number {
  return n.children.reduce((s, c) => s + size(c), 1);
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function TaskNode({ node, all, ask }: { node: Node; all: Task[]; ask(r: ConfirmRequest): void }) {
  const t = node.task;
  const canChange = useCanChange();
  const live = t.status === 'active';
  const below = size(node) - 1;
  const agentLive = all.filter((x) => x.status === 'active' && x.agentId === t.agentId).length;
  const userLive = all.filter((x) => x.status === 'active' && x.userId === t.userId).length;
  return (
    <li>
      <article class="task" aria-label={`Task ${t.id}`}>
        <div>
          <strong>{t.purpose || t.id}</strong> <Status value={t.status} />
        </div>
        <div class="muted">
          <code>{t.id}</code> · agent <a href={`#/agents?id=${encodeURIComponent(t.agentId)}`}>{t.agentId}</a> · for {t.userId} · on{' '}
          {t.resourceId} · started <Time ms={t.createdAt} /> ·{' '}
          {live ? (
            <>
              expires <Time ms={t.expiresAt} />
            </>
          ) : (
            <>
              ended <Time ms={t.endedAt} /> {t.endReason}
            </>
          )}
        </div>
        <div class="actions">
          <a href={`#/audit?task=${encodeURIComponent(t.id)}`}>Audit chain</a>
          {canChange && live && (
            <>
              <ConfirmButton
                label="Stop task"
                ask={ask}
                request={{
                  title: `Stop task ${t.id}?`,
                  consequence: (
                    <p>
                      The task <strong>{t.purpose || t.id}</strong>
                      {below > 0 ? ` and ${plural(below, 'sub-task', 'sub-tasks')} under it` : ''} stop on every node now: every token
                      issued for {below > 0 ? 'them' : 'it'} is refused from the next call.
                    </p>
                  ),
                  reason: true,
                  danger: true,
                  run: (reason) => api('POST', `/tasks/${encodeURIComponent(t.id)}/revoke`, { reason }),
                }}
              />
              <ConfirmButton
                label="Stop agent"
                ask={ask}
                request={{
                  title: `Stop agent ${t.agentId}?`,
                  consequence: (
                    <p>
                      Every credential naming <strong>{t.agentId}</strong> is refused on every node from now on —{' '}
                      {plural(agentLive, 'live task', 'live tasks')} of its own shown here, for every user, and every sub-agent acting
                      through it.
                    </p>
                  ),
                  reason: true,
                  danger: true,
                  run: (reason) => api('POST', '/revocations', { target: { type: 'agent', agentId: t.agentId }, reason }),
                }}
              />
              <ConfirmButton
                label="Stop user"
                ask={ask}
                request={{
                  title: `Stop everything for ${t.userId}?`,
                  consequence: (
                    <p>
                      Every task done for <strong>{t.userId}</strong>, by any agent ({plural(userLive, 'live task', 'live tasks')} shown
                      here), is refused on every node from now on, and no new one is issued for them. Agents they own are offboarded as
                      configured (agents.onOwnerOffboarded).
                    </p>
                  ),
                  reason: true,
                  danger: true,
                  run: (reason) => api('POST', '/revocations', { target: { type: 'user', userId: t.userId }, reason }),
                }}
              />
            </>
          )}
        </div>
      </article>
      {node.children.length > 0 && (
        <ul class="tree" aria-label={`Sub-tasks of ${t.id}`}>
          {node.children.map((c) => (
            <TaskNode key={c.task.id} node={c} all={all} ask={ask} />
          ))}
        </ul>
      )}
    </li>
  );
}

export function TasksPage(_: { params: URLSearchParams }) {
  const [ended, setEnded] = useState(false);
  const { data, error, loading, reload } = useData<Task[]>(
    `/tasks${query({ status: ended ? undefined : 'active', limit: ended ? 300 : 1000 })}`,
    {
      live: true,
    },
  );
  const [dialog, ask] = useConfirm(reload);
  const roots = data === undefined ? [] : forest(data);
  return (
    <>
      <PageTitle>Tasks</PageTitle>
      <p>
        <label>
          <input type="checkbox" checked={ended} onChange={(e) => setEnded(e.currentTarget.checked)} /> Show ended tasks too (newest 300)
        </label>
      </p>
      <ErrorNote error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && roots.length === 0 && <p class="muted">No tasks live right now. New ones appear here as agents start them.</p>}
      <ul class="tree root" aria-label="Tasks" aria-live="polite" aria-relevant="additions">
        {roots.map((n) => (
          <TaskNode key={n.task.id} node={n} all={data ?? []} ask={ask} />
        ))}
      </ul>
      {dialog}
    </>
  );
}
