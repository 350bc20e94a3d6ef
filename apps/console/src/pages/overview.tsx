/** Overview: tasks live, calls and denials per minute, approvals waiting, and this node's revocation freshness and upstreams. */
import { ErrorNote, Loading, PageTitle, Time, useData } from '../ui.js';
import type { Overview } from '../types.js';

export function OverviewPage(_: { params: URLSearchParams }) {
  const { data, error, loading } = useData<Overview>('/overview?minutes=15', { live: true, everyMs: 10_000 });
  const last = data?.calls[data.calls.length - 1];
  const peak = Math.max(1, ...(data?.calls.map((c) => c.allowed + c.denied) ?? [1]));
  const r = data?.node.revocation;
  return (
    <>
      <PageTitle>Overview</PageTitle>
      <ErrorNote error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <>
          <ul class="cards" aria-label="Now">
            <li>
              <span class="big" id="tasks-live">
                {data.tasks.active}
              </span>{' '}
              <a href="#/tasks">tasks live</a>
            </li>
            <li>
              <span class="big">{last?.allowed ?? 0}</span> calls allowed this minute
            </li>
            <li>
              <span class="big">{last?.denied ?? 0}</span> calls denied this minute
            </li>
            <li>
              <span class="big">{data.approvals.pending}</span> <a href="#/approvals">approvals waiting</a>
            </li>
          </ul>

          <section aria-labelledby="rev-h">
            <h2 id="rev-h">Revocation freshness of this node</h2>
            {r !== undefined && (
              <dl class="facts">
                <dt>Node</dt>
                <dd>
                  {data.node.cluster.node_id} ({data.node.cluster.role})
                </dd>
                <dt>State</dt>
                <dd>
                  <span class={r.state === 'current' ? 'ok' : 'bad'}>{r.state}</span>
                  {r.reason !== undefined && ` — ${r.reason}`}
                </dd>
                <dt>Lag</dt>
                <dd id="revocation-lag">{r.lag_ms === null ? 'unknown' : `${r.lag_ms} ms`}</dd>
                <dt>Revocations held</dt>
                <dd>
                  {r.last_seq} of {r.log_seq} in the log ({r.mode})
                </dd>
                {r.max_staleness_ms !== undefined && (
                  <>
                    <dt>Refuses to serve when staler than</dt>
                    <dd>{r.max_staleness_ms} ms</dd>
                  </>
                )}
              </dl>
            )}
          </section>

          {data.nodes != null && (
            <section aria-labelledby="nodes-h">
              <h2 id="nodes-h">Every node's revocation freshness</h2>
              <table>
                <caption class="sr-only">Cluster nodes as each last reported</caption>
                <thead>
                  <tr>
                    <th scope="col">Node</th>
                    <th scope="col">Role</th>
                    <th scope="col">State</th>
                    <th scope="col">Lag</th>
                    <th scope="col">Revocations held</th>
                    <th scope="col">Reported</th>
                  </tr>
                </thead>
                <tbody>
                  {data.nodes.map((n) => (
                    <tr key={n.nodeId}>
                      <th scope="row">{n.nodeId}</th>
                      <td>{n.role}</td>
                      <td class={n.silent || n.state !== 'current' ? 'bad' : 'ok'}>{n.silent ? `silent (last: ${n.state})` : n.state}</td>
                      <td>{n.lagMs === null ? 'unknown' : `${n.lagMs} ms`}</td>
                      <td>
                        {n.lastSeq} of {n.logSeq}
                      </td>
                      <td>
                        <Time ms={n.reportedAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}

          <section aria-labelledby="calls-h">
            <h2 id="calls-h">Calls per minute</h2>
            <table>
              <caption class="sr-only">Calls allowed and denied per minute, last 15 minutes</caption>
              <thead>
                <tr>
                  <th scope="col">Minute</th>
                  <th scope="col">Allowed</th>
                  <th scope="col">Denied</th>
                  <th scope="col">Share of the busiest minute</th>
                </tr>
              </thead>
              <tbody>
                {data.calls
                  .slice()
                  .reverse()
                  .map((c) => (
                    <tr key={c.minute}>
                      <td>
                        <Time ms={c.minute} />
                      </td>
                      <td>{c.allowed}</td>
                      <td class={c.denied > 0 ? 'bad' : undefined}>{c.denied}</td>
                      <td>
                        <meter min={0} max={peak} value={c.allowed + c.denied} aria-label={`${c.allowed + c.denied} calls`} />
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </section>

          <section aria-labelledby="up-h">
            <h2 id="up-h">Upstream saturation</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Resource</th>
                  <th scope="col">In use</th>
                  <th scope="col">Limit</th>
                  <th scope="col">Use</th>
                  <th scope="col">Refused (task / agent / resource)</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(data.node.upstreams.resources).map(([id, u]) => (
                  <tr key={id}>
                    <th scope="row">{id}</th>
                    <td>{u.in_use}</td>
                    <td>{u.limit}</td>
                    <td>
                      <meter min={0} max={u.limit} high={u.limit * 0.8} value={u.in_use} aria-label={`${id}: ${u.in_use} of ${u.limit}`} />
                    </td>
                    <td>
                      {u.refused['task'] ?? 0} / {u.refused['agent'] ?? 0} / {u.refused['resource'] ?? 0}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
    </>
  );
}
