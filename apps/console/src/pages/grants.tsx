/**
 * Grants: the Cedar policies, a new one validated in place (each error at its line and column, from the server's
 * validator against the Writ schema), observe mode and what the observed grants would have decided.
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { ErrorNote, Loading, PageTitle, Status, Time, useCanChange, useConfirm, useData } from '../ui.js';
import type { Grant, ObserveReport } from '../types.js';

interface Problem {
  text: string;
  line?: number;
  column?: number;
}

/** The validator names places as `(line L, column C)`. */
function problemsOf(errors: string[]): Problem[] {
  return errors.map((text) => {
    const m = /\(line (\d+), column (\d+)\)/.exec(text);
    return m === null ? { text } : { text, line: Number(m[1]), column: Number(m[2]) };
  });
}

function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += (lines[i]?.length ?? 0) + 1;
  return offset + Math.max(0, column - 1);
}

function Editor() {
  const [id, setId] = useState('');
  const [description, setDescription] = useState('');
  const [mode, setMode] = useState<'enforce' | 'observe'>('enforce');
  const [policy, setPolicy] = useState('');
  const [problems, setProblems] = useState<Problem[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const badLines = new Set((problems ?? []).map((p) => p.line).filter((l): l is number => l !== undefined));
  const lineCount = Math.max(6, policy.split('\n').length);

  const validate = async (): Promise<boolean> => {
    setError(undefined);
    setSaved(undefined);
    const r = await api<{ ok: boolean; errors?: string[] }>('POST', '/grants/validate', { policy });
    setProblems(r.ok ? [] : problemsOf(r.errors ?? []));
    return r.ok;
  };
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      if (!(await validate())) return;
      await api('POST', '/grants', { id, description, policy, mode });
      setSaved(id);
      setId('');
      setDescription('');
      setPolicy('');
      setProblems(undefined);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ERR_ADMIN_POLICY_INVALID') setProblems(problemsOf(err.details));
      else setError(err);
    }
  };
  const jump = (p: Problem) => {
    const area = document.getElementById('g-policy') as HTMLTextAreaElement | null;
    if (area === null || p.line === undefined) return;
    const at = offsetOf(policy, p.line, p.column ?? 1);
    area.focus();
    area.setSelectionRange(at, at + 1);
  };
  return (
    <section aria-labelledby="new-grant-h" class="panel">
      <h2 id="new-grant-h">New grant</h2>
      <form onSubmit={(e) => void create(e)}>
        <p>
          <label for="g-id">Id</label>
          <input id="g-id" required pattern="[a-z0-9][a-z0-9._\-]{0,62}" value={id} onInput={(e) => setId(e.currentTarget.value)} />
        </p>
        <p>
          <label for="g-description">Description</label>
          <input id="g-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </p>
        <p>
          <label for="g-mode">Mode</label>
          <select id="g-mode" value={mode} onChange={(e) => setMode(e.currentTarget.value === 'observe' ? 'observe' : 'enforce')}>
            <option value="enforce">enforce</option>
            <option value="observe">observe (evaluated beside the enforced grants, never changing an answer)</option>
          </select>
        </p>
        <label for="g-policy">Policy (Cedar)</label>
        <div class="editor">
          <ol class="gutter" aria-hidden="true">
            {Array.from({ length: lineCount }, (_, i) => (
              <li key={i} class={badLines.has(i + 1) ? 'bad-line' : undefined}>
                {i + 1}
              </li>
            ))}
          </ol>
          <textarea
            id="g-policy"
            required
            rows={lineCount}
            spellcheck={false}
            value={policy}
            aria-invalid={problems !== undefined && problems.length > 0 ? 'true' : undefined}
            aria-describedby="g-problems"
            onInput={(e) => {
              setPolicy(e.currentTarget.value);
              setSaved(undefined);
            }}
          />
        </div>
        <div id="g-problems" aria-live="polite">
          {problems !== undefined && problems.length === 0 && <p class="ok">Valid against the Writ schema.</p>}
          {problems !== undefined && problems.length > 0 && (
            <ul class="problems" role="alert">
              {problems.map((p) => (
                <li key={p.text}>
                  {p.line !== undefined ? (
                    <button type="button" class="link" onClick={() => jump(p)}>
                      Line {p.line}, column {p.column}
                    </button>
                  ) : null}{' '}
                  {p.text}
                </li>
              ))}
            </ul>
          )}
        </div>
        <ErrorNote error={error} />
        {saved !== undefined && (
          <p class="ok" role="status">
            Grant {saved} created and in force.
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={() => void validate().catch(setError)}>
            Validate
          </button>
          <button type="submit" class="primary">
            Create grant
          </button>
        </div>
      </form>
    </section>
  );
}

function ObserveResults() {
  const { data, error } = useData<ObserveReport>('/grants/observe-report', { live: true });
  if (data === undefined) return <ErrorNote error={error} />;
  return (
    <section aria-labelledby="observe-h">
      <h2 id="observe-h">Observe mode: what observed grants would change (last 24 hours)</h2>
      {data.rows.length === 0 ? (
        <p class="muted">No differences recorded{data.records === 0 ? ' (no grant is observed, or no call met one)' : ''}.</p>
      ) : (
        <table>
          <thead>
            <tr>
              {Object.keys(data.rows[0] ?? {}).map((k) => (
                <th key={k} scope="col">
                  {k}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.rows.map((r, i) => (
              <tr key={i}>
                {Object.values(r).map((v, j) => (
                  <td key={j}>{typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function GrantsPage({ params }: { params: URLSearchParams }) {
  const { data, error, loading, reload } = useData<Grant[]>('/grants', { live: true });
  const canChange = useCanChange();
  const [dialog, confirm] = useConfirm(reload);
  const selected = params.get('id');
  const grant = data?.find((g) => g.id === selected);
  return (
    <>
      <PageTitle>Grants</PageTitle>
      <ErrorNote error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <table>
          <caption class="sr-only">Grants</caption>
          <thead>
            <tr>
              <th scope="col">Grant</th>
              <th scope="col">Description</th>
              <th scope="col">Mode</th>
              <th scope="col">Enabled</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {data.map((g) => (
              <tr key={g.id} aria-current={g.id === selected ? 'true' : undefined}>
                <th scope="row">
                  <a href={`#/grants?id=${encodeURIComponent(g.id)}`}>{g.id}</a>
                </th>
                <td>{g.description}</td>
                <td>
                  <Status value={g.mode} />
                </td>
                <td>{g.enabled ? 'yes' : 'no'}</td>
                <td>
                  <Time ms={g.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {grant !== undefined && (
        <section aria-labelledby="grant-h" class="panel">
          <h2 id="grant-h">Grant {grant.id}</h2>
          <pre class="policy">{grant.policy}</pre>
          {canChange && (
            <div class="actions">
              <button
                type="button"
                onClick={() => {
                  const to = grant.mode === 'enforce' ? 'observe' : 'enforce';
                  confirm({
                    title: `Switch ${grant.id} to ${to}?`,
                    consequence:
                      to === 'observe' ? (
                        <p>It stops deciding calls; it is evaluated beside the enforced grants and its differences are recorded.</p>
                      ) : (
                        <p>It decides calls from now on, on every node.</p>
                      ),
                    confirmLabel: `Switch to ${to}`,
                    run: () => api('POST', `/grants/${encodeURIComponent(grant.id)}/mode`, { mode: to }),
                  });
                }}
              >
                {grant.mode === 'enforce' ? 'Observe instead' : 'Enforce'}
              </button>
              <button
                type="button"
                class="danger"
                onClick={() =>
                  confirm({
                    title: `Delete ${grant.id}?`,
                    consequence: <p>What it permits is refused from the next call, on every node.</p>,
                    confirmLabel: 'Delete grant',
                    danger: true,
                    run: () => api('DELETE', `/grants/${encodeURIComponent(grant.id)}`),
                  })
                }
              >
                Delete
              </button>
            </div>
          )}
        </section>
      )}
      {canChange && <Editor />}
      <ObserveResults />
      {dialog}
    </>
  );
}
