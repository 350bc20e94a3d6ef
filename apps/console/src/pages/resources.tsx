/**
 * Resources and secrets: register an HTTP resource and how its secret is injected; store a new version of a static
 * secret (rotate). Values are write-only: typed into a password field, sent once, never shown or read back.
 */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorNote, Loading, PageTitle, Time, useCanChange, useData } from '../ui.js';
import type { Resource, Secret } from '../types.js';

function NewResource({ done }: { done(): void }) {
  const [f, setF] = useState({ id: '', baseUrl: '', secretId: '', inject: 'bearer', header: '', description: '' });
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const inject = f.secretId === '' ? undefined : f.inject === 'header' ? { mode: 'header', name: f.header } : { mode: 'bearer' };
      await api('POST', '/resources', {
        id: f.id,
        kind: 'http',
        baseUrl: f.baseUrl,
        description: f.description,
        ...(inject !== undefined ? { secretId: f.secretId, inject } : {}),
      });
      setSaved(f.id);
      setF({ id: '', baseUrl: '', secretId: '', inject: 'bearer', header: '', description: '' });
      done();
    } catch (err) {
      setError(err);
    }
  };
  const field = (k: keyof typeof f, label: string, extra: Record<string, unknown> = {}) => (
    <p>
      <label for={`r-${k}`}>{label}</label>
      <input id={`r-${k}`} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} {...extra} />
    </p>
  );
  return (
    <section aria-labelledby="new-resource-h" class="panel">
      <h2 id="new-resource-h">Register an HTTP resource</h2>
      <form onSubmit={(e) => void submit(e)}>
        {field('id', 'Id', { required: true })}
        {field('baseUrl', 'Upstream base URL', { required: true, type: 'url' })}
        {field('description', 'Description')}
        {field('secretId', 'Secret injected (id, optional)')}
        <p>
          <label for="r-inject">Injected as</label>
          <select id="r-inject" value={f.inject} onChange={(e) => setF({ ...f, inject: e.currentTarget.value })}>
            <option value="bearer">Authorization: Bearer</option>
            <option value="header">a header of its own</option>
          </select>
        </p>
        {f.inject === 'header' && field('header', 'Header name')}
        <ErrorNote error={error} />
        {saved !== undefined && (
          <p class="ok" role="status">
            Resource {saved} registered.
          </p>
        )}
        <button type="submit" class="primary">
          Register resource
        </button>
      </form>
    </section>
  );
}

function StoreSecret({ done, id: preset }: { done(): void; id: string }) {
  const [id, setId] = useState(preset);
  const [value, setValue] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const meta = await api<Secret>('PUT', `/secrets/${encodeURIComponent(id)}`, {
        kind: 'static',
        value,
        ...(description !== '' ? { description } : {}),
      });
      setSaved(`${meta.id} is at version ${meta.current_version}`);
      done();
    } catch (err) {
      setError(err);
    } finally {
      // The value leaves the page either way: it is never kept, shown or sent again.
      setValue('');
    }
  };
  return (
    <section aria-labelledby="secret-h" class="panel">
      <h2 id="secret-h">Store or rotate a static secret</h2>
      <form onSubmit={(e) => void submit(e)} autocomplete="off">
        <p>
          <label for="s-id">Secret id</label>
          <input id="s-id" required value={id} onInput={(e) => setId(e.currentTarget.value)} />
        </p>
        <p>
          <label for="s-value">New value (write-only: never shown again)</label>
          <input
            id="s-value"
            type="password"
            required
            autocomplete="new-password"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </p>
        <p>
          <label for="s-description">Description</label>
          <input id="s-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </p>
        <ErrorNote error={error} />
        {saved !== undefined && (
          <p class="ok" role="status">
            Stored: {saved}.
          </p>
        )}
        <button type="submit" class="primary">
          Store new version
        </button>
      </form>
    </section>
  );
}

export function ResourcesPage(_: { params: URLSearchParams }) {
  const resources = useData<Resource[]>('/resources', { live: true });
  const secrets = useData<Secret[]>('/secrets', { live: true });
  const canChange = useCanChange();
  const [rotate, setRotate] = useState('');
  return (
    <>
      <PageTitle>Resources &amp; secrets</PageTitle>
      <h2>Resources</h2>
      <ErrorNote error={resources.error} />
      <Loading when={resources.loading && resources.data === undefined} />
      {resources.data !== undefined && (
        <table>
          <thead>
            <tr>
              <th scope="col">Resource</th>
              <th scope="col">Kind</th>
              <th scope="col">Upstream</th>
              <th scope="col">Secret</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {resources.data.map((r) => (
              <tr key={r.id}>
                <th scope="row">{r.id}</th>
                <td>{r.kind}</td>
                <td>{r.baseUrl || (r.kind === 'mcp' ? 'processes Writ runs' : '')}</td>
                <td>{r.secretId === null ? '—' : `${r.secretId} (${r.inject?.mode ?? ''})`}</td>
                <td>{r.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Secrets</h2>
      <p class="muted">Values are write-only: no page and no API ever shows one.</p>
      <ErrorNote error={secrets.error} />
      {secrets.data !== undefined && (
        <table>
          <thead>
            <tr>
              <th scope="col">Secret</th>
              <th scope="col">Kind</th>
              <th scope="col">Version</th>
              <th scope="col">Updated</th>
              <th scope="col">Description</th>
              {canChange && <th scope="col">Rotate</th>}
            </tr>
          </thead>
          <tbody>
            {secrets.data.map((s) => (
              <tr key={s.id}>
                <th scope="row">{s.id}</th>
                <td>{s.kind}</td>
                <td>{s.current_version}</td>
                <td>
                  <Time ms={s.updated_at} />
                </td>
                <td>{s.description}</td>
                {canChange && (
                  <td>
                    {s.kind === 'static' && (
                      <button type="button" onClick={() => setRotate(s.id)} aria-label={`Rotate ${s.id}`}>
                        Rotate
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canChange && (
        <>
          <StoreSecret key={rotate} id={rotate} done={secrets.reload} />
          <NewResource done={resources.reload} />
        </>
      )}
    </>
  );
}
