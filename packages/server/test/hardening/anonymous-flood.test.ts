/**
 * Anonymous traffic cannot grow the audit log at request rate: a client sending unauthenticated requests as fast as
 * it can — no token, a garbage token, an unknown resource, a malformed token request — across 30+ seconds of Writ's
 * clock adds a bounded number of rows (the first refusal of each kind per window, then a count), every refusal is
 * still counted, and an authenticated agent calling at the same time has every one of its calls on the record.
 * Writ's clock is moved, not waited for.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { PATHS } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

interface Row {
  type: string;
  decision: string;
  agent_id?: string;
  task_id?: string;
  data: { aggregated?: number; source?: string };
}

const REQUESTS = 2400;
const CONCURRENCY = 24;
/** Writ's clock moves 11 s every this many requests: 4 windows of 10 s, 44 s in all. */
const PER_STEP = 600;

describeEachStore('anonymous flood', (kind) => {
  const h = useHarness(kind, { config: { 'audit.anonymousDenialWindowSeconds': 10 } });
  let agent: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
  });

  const all = async (): Promise<Row[]> => {
    await h.writ.flushAudit();
    return h.admin.get<Row[]>('/audit?limit=1000');
  };

  test('unauthenticated requests at full speed across 44 s of Writ clock add at most 100 rows; authenticated calls are all recorded', async () => {
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] });
    const before = (await all()).length;
    const api = `${h.resourceUri('api')}/v1/projects`;
    const anonymous: (() => Promise<Response>)[] = [
      () => fetch(api),
      () => fetch(api, { headers: { authorization: 'DPoP not.a.token', dpop: 'not.a.proof' } }),
      () => fetch(`${h.writ.publicUrl}${PATHS.httpResourcePrefix}no-such-resource/x`),
      () => fetch(`${h.writ.publicUrl}${PATHS.token}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
    ];
    let sent = 0;
    let authenticated = 0;
    const statuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < REQUESTS) {
          const i = sent++;
          if (i > 0 && i % PER_STEP === 0) h.clock.advance(11);
          if (i % 120 === 0) {
            // An authenticated agent at the same time: each of its calls has its own record.
            const r = await task.fetch(api);
            assert.equal(r.status, 200);
            await r.arrayBuffer();
            authenticated++;
          }
          const res = await (anonymous[i % anonymous.length] as () => Promise<Response>)();
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      }),
    );
    assert.ok(![...statuses.keys()].some((s) => s >= 500), `statuses ${JSON.stringify([...statuses])}`);

    const rows = await all();
    const fresh = rows.length - before;
    assert.ok(fresh <= 100, `${fresh} rows for ${REQUESTS} anonymous requests`);
    const anonymousRows = rows.filter((r) => r.decision === 'deny' && r.agent_id === undefined && r.data.source !== undefined);
    assert.equal(
      anonymousRows.reduce((n, r) => n + (r.data.aggregated ?? 1), 0),
      REQUESTS,
      'every refusal counted',
    );
    const allowed = rows.filter((r) => r.type === 'call.allowed' && r.task_id === task.id);
    assert.equal(allowed.length, authenticated);
  });
});
