/** Agents: the register with owners and lifecycle, each agent's spawn tree, and suspend / revoke / reactivate. */
import { api } from '../api.js';
import { ConfirmButton, ErrorNote, Loading, PageTitle, Status, Time, useCanChange, useConfirm, useData } from '../ui.js';
import type { Agent, SpawnNode } from '../types.js';

function SpawnTree({ nodes }: { nodes: SpawnNode[] }) {
  if (nodes.length === 0) return <p class="muted">No tasks yet.</p>;
  return (
    <ul class="tree">
      {nodes.map((n) => (
        <li key={n.task}>
          <span>
            <a href={`#/audit?task=${encodeURIComponent(n.task)}`}>{n.task}</a> · {n.agent} for {n.user} · <Status value={n.status} /> ·{' '}
            <span class="muted">{n.purpose}</span>
          </span>
          {n.spawned.length > 0 && <SpawnTree nodes={n.spawned} />}
        </li>
      ))}
    </ul>
  );
}

function AgentDetail({ id, reload }: { id: string; reload(): void }) {
  const agent = useData<Agent>(`/agents/${encodeURIComponent(id)}`, { live: true });
  const tree = useData<{ tasks: SpawnNode[]; truncated: boolean }>(`/agents/${encodeURIComponent(id)}/spawn-tree`, { live: true });
  const canChange = useCanChange();
  const [dialog, confirm] = useConfirm(() => {
    agent.reload();
    reload();
  });
  const a = agent.data;
  return (
    <section aria-labelledby="agent-h" class="panel">
      <h2 id="agent-h">Agent {id}</h2>
      <ErrorNote error={agent.error} />
      {a !== undefined && (
        <>
          <dl class="facts">
            <dt>Name</dt>
            <dd>{a.name}</dd>
            <dt>Owner</dt>
            <dd>{a.owner}</dd>
            <dt>Status</dt>
            <dd>
              <Status value={a.status} />
            </dd>
            <dt>Registration ends</dt>
            <dd>
              <Time ms={a.expiresAt} />
            </dd>
            <dt>Review by</dt>
            <dd>
              <Time ms={a.reviewBy} />
            </dd>
            <dt>Last used</dt>
            <dd>
              <Time ms={a.lastUsedAt} />
            </dd>
          </dl>
          {canChange && (
            <div class="actions">
              {a.status === 'active' ? (
                <ConfirmButton
                  label="Suspend"
                  ask={confirm}
                  request={{
                    title: `Suspend ${a.id}?`,
                    consequence: (
                      <p>
                        Every token <strong>{a.id}</strong> holds is revoked on every node now, and it gets no new ones until someone
                        reactivates it. Its tasks and the sub-agents working under them stop.
                      </p>
                    ),
                    confirmLabel: 'Suspend agent',
                    reason: true,
                    danger: true,
                    run: (reason) => api('POST', `/agents/${encodeURIComponent(a.id)}/status`, { status: 'suspended', reason }),
                  }}
                />
              ) : (
                <ConfirmButton
                  label="Reactivate"
                  ask={confirm}
                  request={{
                    title: `Reactivate ${a.id}?`,
                    consequence: <p>It may ask for new task tokens again. Tokens revoked before stay revoked.</p>,
                    reason: true,
                    run: (reason) => api('POST', `/agents/${encodeURIComponent(a.id)}/status`, { status: 'active', reason }),
                  }}
                />
              )}
              <ConfirmButton
                label="Revoke"
                ask={confirm}
                request={{
                  title: `Revoke ${a.id}?`,
                  consequence: (
                    <p>
                      Every credential naming <strong>{a.id}</strong> anywhere in its delegation chain is refused on every node from now on:
                      its own tasks and every sub-agent acting through it.
                    </p>
                  ),
                  confirmLabel: 'Revoke agent',
                  reason: true,
                  danger: true,
                  run: (reason) => api('POST', '/revocations', { target: { type: 'agent', agentId: a.id }, reason }),
                }}
              />
            </div>
          )}
          <h3>Spawn tree</h3>
          <ErrorNote error={tree.error} />
          {tree.data !== undefined && <SpawnTree nodes={tree.data.tasks} />}
          {tree.data?.truncated === true && <p class="muted">Only the newest tasks are shown.</p>}
        </>
      )}
      {dialog}
    </section>
  );
}

export function AgentsPage({ params }: { params: URLSearchParams }) {
  const { data, error, loading, reload } = useData<Agent[]>('/agents', { live: true });
  const selected = params.get('id');
  return (
    <>
      <PageTitle>Agents</PageTitle>
      <ErrorNote error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <table>
          <caption class="sr-only">Registered agents</caption>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Owner</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Ends</th>
              <th scope="col">Review by</th>
              <th scope="col">Last used</th>
            </tr>
          </thead>
          <tbody>
            {data.map((a) => (
              <tr key={a.id} aria-current={a.id === selected ? 'true' : undefined}>
                <th scope="row">
                  <a href={`#/agents?id=${encodeURIComponent(a.id)}`}>{a.id}</a>
                  <div class="muted">{a.name}</div>
                </th>
                <td>{a.owner}</td>
                <td>{a.kind}</td>
                <td>
                  <Status value={a.status} />
                </td>
                <td>
                  <Time ms={a.expiresAt} />
                </td>
                <td>
                  <Time ms={a.reviewBy} />
                </td>
                <td>
                  <Time ms={a.lastUsedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected !== null && <AgentDetail key={selected} id={selected} reload={reload} />}
    </>
  );
}
