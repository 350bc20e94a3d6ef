/**
 * Observe mode, on every store: a grant deployed to `observe` is evaluated on live calls beside the enforced grants
 * and never changes an answer — a forbid that would deny never denies, a permit that would allow never allows — while
 * every call where the two differ is recorded (`policy.observed`, both decisions) and summarised per grant, resource
 * and action by the observe report; promoted to `enforce`, the same grant decides.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import type { Task } from '@writ/agent';
import { AdminClientError } from '../../src/admin-client/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

const ENFORCED = `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && ["GET", "POST"].contains(context.method) && context.path like "/v1/*" && !(context.path like "*/admin*") };`;
const WOULD_DENY_POSTS = `forbid (principal, action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.method == "POST" };`;
const WOULD_ALLOW_ADMIN = `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.path == "/v1/admin" };`;
const DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/*'] }];

interface ObservedRow {
  type: string;
  decision: string;
  reason: string;
  action: string;
  data: { enforced: string; observed: string; observed_policies: string[] };
}
interface ReportRow {
  grant: string;
  resource: string;
  action: string;
  wouldAllow: number;
  wouldDeny: number;
}

describeEachStore('observe mode', (kind) => {
  const h = useHarness(kind, { grant: ENFORCED });
  let agent: TestAgent;
  let task: Task;

  before(async () => {
    agent = await h.registerAgent('agent-a');
    await h.admin.post('/grants', { id: 'obs-posts', policy: WOULD_DENY_POSTS, mode: 'observe' });
    await h.admin.post('/grants', { id: 'obs-admin', policy: WOULD_ALLOW_ADMIN, mode: 'observe' });
    task = await h.startTask(agent, { details: DETAILS });
  });

  const observed = async (): Promise<ObservedRow[]> => {
    await h.writ.flushAudit();
    return h.admin.get<ObservedRow[]>(`/audit?type=policy.observed&task=${task.id}&limit=1000`);
  };
  const url = (path: string): string => `${h.resourceUri('api')}${path}`;

  test('an observed forbid never denies, an observed permit never allows; each difference is recorded with both decisions', async () => {
    assert.equal((await task.fetch(url('/v1/projects'), { method: 'POST', body: '{}' })).status, 200);
    assert.equal((await task.fetch(url('/v1/projects'), { method: 'POST', body: '{}' })).status, 200);
    const admin = await task.fetch(url('/v1/admin'));
    assert.equal(admin.status, 403);
    assert.equal(((await admin.json()) as { code: string }).code, 'ERR_POLICY_DENIED');
    // Where both sets agree, nothing is recorded.
    assert.equal((await task.fetch(url('/v1/projects'))).status, 200);

    // Recorded after the answer, off the call's path; an audit flush waits for the observations under way.
    const rows = await observed();
    assert.equal(rows.length, 3, JSON.stringify(rows));
    const deny = rows.filter((r) => r.reason === 'would_deny');
    assert.equal(deny.length, 2);
    assert.deepEqual(deny[0]?.data.enforced, 'allow');
    assert.deepEqual(deny[0]?.data.observed, 'deny');
    assert.deepEqual(deny[0]?.data.observed_policies, ['obs-posts.0']);
    assert.equal(deny[0]?.action, 'POST /v1/projects');
    const allow = rows.filter((r) => r.reason === 'would_allow');
    assert.equal(allow.length, 1);
    assert.equal(allow[0]?.decision, 'deny');
    assert.deepEqual(allow[0]?.data.observed_policies, ['obs-admin.0']);

    const report = await h.admin.get<{ records: number; rows: ReportRow[] }>('/grants/observe-report');
    assert.ok(report.records >= 3);
    const byGrant = new Map(report.rows.map((r) => [`${r.grant} ${r.action}`, r]));
    assert.deepEqual(
      { allow: byGrant.get('obs-posts POST /v1/projects')?.wouldAllow, deny: byGrant.get('obs-posts POST /v1/projects')?.wouldDeny },
      { allow: 0, deny: 2 },
    );
    assert.equal(byGrant.get('obs-admin GET /v1/admin')?.wouldAllow, 1);
    assert.equal(byGrant.get('obs-admin GET /v1/admin')?.resource, 'api');
  });

  test('promoted to enforce, the grant decides; back to observe, it does not', async () => {
    const promoted = await h.admin.post<{ mode: string }>('/grants/obs-posts/mode', { mode: 'enforce' });
    assert.equal(promoted.mode, 'enforce');
    const refused = await task.fetch(url('/v1/projects'), { method: 'POST', body: '{}' });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { code: string }).code, 'ERR_POLICY_DENIED');
    await h.admin.post('/grants/obs-posts/mode', { mode: 'observe' });
    assert.equal((await task.fetch(url('/v1/projects'), { method: 'POST', body: '{}' })).status, 200);
    const grants = await h.admin.get<Array<{ id: string; mode: string }>>('/grants');
    assert.equal(grants.find((g) => g.id === 'obs-posts')?.mode, 'observe');
    assert.equal(grants.find((g) => g.id === 'default')?.mode, 'enforce');
  });

  test('bad requests change nothing', async () => {
    for (const [path, body, status] of [
      ['/grants/obs-posts/mode', { mode: 'audit' }, 400],
      ['/grants/obs-posts/mode', {}, 400],
      ['/grants/nope/mode', { mode: 'observe' }, 404],
    ] as const)
      await assert.rejects(h.admin.post(path, body), (err: unknown) => err instanceof AdminClientError && err.status === status);
    await assert.rejects(
      h.admin.post('/grants', { id: 'bad-mode', policy: WOULD_DENY_POSTS, mode: 'shadow' }),
      (err: unknown) => err instanceof AdminClientError && err.status === 400,
    );
    await assert.rejects(
      h.admin.get('/grants/observe-report?since=-1'),
      (err: unknown) => err instanceof AdminClientError && err.status === 400,
    );
    assert.equal((await h.admin.get<Array<{ id: string; mode: string }>>('/grants')).find((g) => g.id === 'obs-posts')?.mode, 'observe');
  });
});
