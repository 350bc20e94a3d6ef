/**
 * Audit explorer: filter by user, agent, task, resource, decision, type and time (newest first, paged); the chain of a
 * task — user → agents → calls, each with its decision, reason and grants; the hash chain's verification; export.
 */
import { useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { ErrorNote, Loading, PageTitle, Status, Time, useData } from '../ui.js';
import type { AuditEntry, TaskChain } from '../types.js';

const FIELDS = [
  ['user', 'User'],
  ['agent', 'Agent'],
  ['task', 'Task'],
  ['resource', 'Resource'],
  ['type', 'Event type'],
] as const;

type Filters = Record<(typeof FIELDS)[number][0] | 'decision' | 'since' | 'until', string>;

function filtersOf(params: URLSearchParams): Filters {
  const f = {} as Filters;
  for (const k of ['user', 'agent', 'task', 'resource', 'type', 'decision', 'since', 'until'] as const) f[k] = params.get(k) ?? '';
  return f;
}

function toMs(local: string): number | undefined {
  if (local === '') return undefined;
  const t = new Date(local).getTime();
  return Number.isNaN(t) ? undefined : t;
}

function grantsOf(e: AuditEntry): string[] {
  const g = e.data?.['grants'];
  return Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : [];
}

function Decision({ e }: { e: AuditEntry }) {
  if (e.decision === undefined) return <span class="muted">—</span>;
  return <span class={e.decision === 'allow' ? 'ok' : 'bad'}>{e.decision}</span>;
}

function Verification() {
  // Verifying reads the whole chain: on opening the page and when asked, never on every change.
  const { data, error, loading, reload } = useData<{ ok: boolean; count?: number; firstBadSeq?: number; problem?: string }>(
    '/audit/verify',
  );
  return (
    <div role="status" class={data === undefined ? 'muted' : data.ok ? 'banner ok' : 'banner bad'} id="chain-status">
      <ErrorNote error={error} />
      {data === undefined
        ? 'Verifying the hash chain…'
        : data.ok
          ? `Hash chain verified: ${data.count ?? 0} events, none altered, inserted or removed.`
          : `Hash chain BROKEN at event ${data.firstBadSeq ?? '?'}: ${data.problem ?? ''}`}{' '}
      <button type="button" class="link" onClick={reload} disabled={loading}>
        Verify again
      </button>
    </div>
  );
}

function Chain({ taskId }: { taskId: string }) {
  const { data, error, loading } = useData<TaskChain>(`/tasks/${encodeURIComponent(taskId)}/audit`, { live: true });
  return (
    <section aria-labelledby="chain-h" class="panel">
      <h2 id="chain-h">Chain of task {taskId}</h2>
      <ErrorNote error={error} />
      <Loading when={loading && data === undefined} />
      {data?.tasks.map((t) => {
        const events = data.events.filter((e) => e.task_id === t.id);
        return (
          <div key={t.id} class="chain-task" data-depth={Math.min(t.depth, 6)}>
            <h3>
              {t.user_id} → {t.agent_id} <Status value={t.status} />
            </h3>
            <p class="muted">
              <code>{t.id}</code> on {t.resource_id}: {t.purpose}
            </p>
            <ol class="events">
              {events.map((e) => (
                <li key={e.seq}>
                  <Time ms={e.time} /> <code>{e.type}</code> {e.action ?? ''} — <Decision e={e} />{' '}
                  <span class="reason">{e.reason ?? ''}</span>
                  {grantsOf(e).length > 0 && <span class="muted"> · grants {grantsOf(e).join(', ')}</span>}
                  {e.detail !== undefined && <div class="muted">{e.detail}</div>}
                  {e.actor_chain !== undefined && <div class="muted">by {e.actor_chain.join(' → ')}</div>}
                </li>
              ))}
            </ol>
          </div>
        );
      })}
    </section>
  );
}

async function exportLog(format: 'jsonl' | 'ocsf'): Promise<void> {
  const lines: string[] = [];
  let after = 0;
  // Page through the whole log (each page at most 5000 events) and hand it to the browser as one file.
  for (;;) {
    const page = await api<Array<Record<string, unknown> & { seq?: number; metadata?: { sequence?: number } }>>(
      'GET',
      `/audit/export${query({ format, after_seq: after, limit: 5000 })}`,
    );
    for (const e of page) lines.push(JSON.stringify(e));
    const last = page[page.length - 1];
    const seq = last === undefined ? undefined : (last.seq ?? last.metadata?.sequence);
    if (page.length < 5000 || seq === undefined) break;
    after = seq;
  }
  const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'application/x-ndjson' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `writ-audit.${format}.jsonl`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function AuditPage({ params }: { params: URLSearchParams }) {
  const applied = filtersOf(params);
  const [form, setForm] = useState<Filters>(applied);
  const [before, setBefore] = useState<number | undefined>(undefined);
  const [exportError, setExportError] = useState<unknown>(undefined);
  const chain = params.get('chain');
  const path = `/audit${query({
    user: applied.user,
    agent: applied.agent,
    task: applied.task,
    resource: applied.resource,
    type: applied.type,
    decision: applied.decision,
    since: toMs(applied.since),
    until: toMs(applied.until),
    order: 'desc',
    limit: 100,
    before_seq: before,
  })}`;
  const { data, error, loading } = useData<AuditEntry[]>(path, { live: before === undefined });
  const apply = (e: Event) => {
    e.preventDefault();
    setBefore(undefined);
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (v !== '') q.set(k, v);
    location.hash = `#/audit?${q.toString()}`;
  };
  const chainLink = (taskId: string) => {
    const q = new URLSearchParams(params);
    q.set('chain', taskId);
    return `#/audit?${q.toString()}`;
  };
  return (
    <>
      <PageTitle>Audit</PageTitle>
      <Verification />
      <form class="filters" onSubmit={apply} aria-label="Filter the audit log">
        {FIELDS.map(([k, label]) => (
          <p key={k}>
            <label for={`f-${k}`}>{label}</label>
            <input id={`f-${k}`} value={form[k]} onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })} />
          </p>
        ))}
        <p>
          <label for="f-decision">Decision</label>
          <select id="f-decision" value={form.decision} onChange={(e) => setForm({ ...form, decision: e.currentTarget.value })}>
            <option value="">any</option>
            <option value="allow">allow</option>
            <option value="deny">deny</option>
          </select>
        </p>
        <p>
          <label for="f-since">From</label>
          <input
            id="f-since"
            type="datetime-local"
            value={form.since}
            onInput={(e) => setForm({ ...form, since: e.currentTarget.value })}
          />
        </p>
        <p>
          <label for="f-until">Until</label>
          <input
            id="f-until"
            type="datetime-local"
            value={form.until}
            onInput={(e) => setForm({ ...form, until: e.currentTarget.value })}
          />
        </p>
        <div class="actions">
          <button type="submit" class="primary">
            Filter
          </button>
          <button type="button" onClick={() => void exportLog('jsonl').catch(setExportError)}>
            Export JSONL
          </button>
          <button type="button" onClick={() => void exportLog('ocsf').catch(setExportError)}>
            Export OCSF
          </button>
        </div>
      </form>
      <ErrorNote error={exportError} />
      {chain !== null && <Chain key={chain} taskId={chain} />}
      <ErrorNote error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <>
          <table class="audit">
            <caption class="sr-only">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Decision</th>
                <th scope="col">Who</th>
                <th scope="col">Resource and action</th>
                <th scope="col">Task</th>
              </tr>
            </thead>
            <tbody>
              {data.map((e) => (
                <tr key={e.seq}>
                  <td>{e.seq}</td>
                  <td>
                    <Time ms={e.time} />
                  </td>
                  <td>
                    <code>{e.type}</code>
                    {e.reason !== undefined && <div class="muted">{e.reason}</div>}
                  </td>
                  <td>
                    <Decision e={e} />
                  </td>
                  <td>{(e.actor_chain ?? [e.user_id, e.agent_id].filter((x): x is string => typeof x === 'string')).join(' → ')}</td>
                  <td>
                    {e.resource ?? ''} {e.action ?? ''}
                  </td>
                  <td>{typeof e.task_id === 'string' && <a href={chainLink(e.task_id)}>Chain</a>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.length === 100 && (
            <button type="button" onClick={() => setBefore(data[data.length - 1]?.seq)}>
              Older events
            </button>
          )}
          {before !== undefined && (
            <button type="button" onClick={() => setBefore(undefined)}>
              Back to the newest
            </button>
          )}
        </>
      )}
    </>
  );
}
