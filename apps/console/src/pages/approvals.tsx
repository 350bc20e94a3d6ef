/** Approvals inbox: calls a grant's `@approval` held back; an operator decides those whose grant names `admin`. */
import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { ErrorNote, Loading, PageTitle, Status, Time, useCanChange, useConfirm, useData } from '../ui.js';
import type { Approval } from '../types.js';

export function ApprovalsPage(_: { params: URLSearchParams }) {
  const [status, setStatus] = useState('pending');
  const { data, error, loading, reload } = useData<Approval[]>(`/approvals${query({ status: status === 'all' ? undefined : status })}`, {
    live: true,
  });
  const canChange = useCanChange();
  const [dialog, confirm] = useConfirm(reload);
  const decide = (a: Approval, approve: boolean) =>
    confirm({
      title: `${approve ? 'Approve' : 'Deny'} ${a.call.action} ${a.call.target}?`,
      consequence: approve ? (
        <p>
          The agent <strong>{a.agentId}</strong> may send this exact call once, for {a.userId}, within minutes. Any other call, or other
          arguments, still waits for its own approval.
        </p>
      ) : (
        <p>The call is refused; the agent is told so.</p>
      ),
      confirmLabel: approve ? 'Approve call' : 'Deny call',
      reason: true,
      danger: !approve,
      run: (reason) => api('POST', `/approvals/${encodeURIComponent(a.id)}/${approve ? 'approve' : 'deny'}`, { reason }),
    });
  return (
    <>
      <PageTitle>Approvals</PageTitle>
      <p>
        <label for="a-status">Show</label>{' '}
        <select id="a-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          {['pending', 'approved', 'denied', 'used', 'expired', 'all'].map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </p>
      <ErrorNote error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && data.length === 0 && <p class="muted">Nothing here.</p>}
      {data?.map((a) => (
        <article key={a.id} class="panel" aria-label={`Approval ${a.id}`}>
          <h2>
            {a.call.action} {a.call.target} <Status value={a.status} />
          </h2>
          <dl class="facts">
            <dt>For</dt>
            <dd>{a.call.actorChain.join(' → ')}</dd>
            <dt>Resource</dt>
            <dd>{a.resourceId}</dd>
            <dt>Task</dt>
            <dd>
              <a href={`#/audit?chain=${encodeURIComponent(a.taskId)}`}>{a.taskId}</a> — {a.call.purpose}
            </dd>
            <dt>Arguments</dt>
            <dd>
              {a.argumentsUnreadable === true ? (
                <p class="error">Cannot be read with the key-encryption keys this node holds: it may be denied, not approved.</p>
              ) : (
                <pre>{JSON.stringify(a.call.arguments, null, 2)}</pre>
              )}
            </dd>
            <dt>Who may approve</dt>
            <dd>{a.approvers.join(', ')}</dd>
            <dt>Asked</dt>
            <dd>
              <Time ms={a.createdAt} /> · expires <Time ms={a.expiresAt} />
            </dd>
            {a.decidedBy !== null && (
              <>
                <dt>Decided</dt>
                <dd>
                  by {a.decidedBy} <Time ms={a.decidedAt} /> {a.reason}
                </dd>
              </>
            )}
          </dl>
          {canChange && a.status === 'pending' && (
            <div class="actions">
              {a.argumentsUnreadable !== true && (
                <button type="button" class="primary" onClick={() => decide(a, true)}>
                  Approve
                </button>
              )}
              <button type="button" class="danger" onClick={() => decide(a, false)}>
                Deny
              </button>
            </div>
          )}
        </article>
      ))}
      {dialog}
    </>
  );
}
