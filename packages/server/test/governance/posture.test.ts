/**
 * The posture report, on every store: each kind of finding appears for the item that causes it — an agent without an
 * owner, an offboarded owner, an agent never used, a grant unused over the window, a resource that accepts bearer
 * tokens, a long-lived task, an unrotated secret, the fixed admin token — with why, how to fix it and its OWASP NHI,
 * OWASP Agentic and NIST CSF PR.AA mapping, highest severity first; and the Markdown the CLI prints.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { AdminClientError } from '../../src/admin-client/index.js';
import { markdown } from '../../src/cli/posture-command.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }];
const DAY = 86_400_000;

interface Finding {
  code: string;
  severity: 'high' | 'medium' | 'low';
  item: { kind: string; id: string };
  why: string;
  fix: string;
  mappings: { owaspNhi: string[]; owaspAgentic: string[]; nistCsf: string[] };
}
interface Report {
  generatedAt: number;
  since: number;
  summary: Record<string, number>;
  findings: Finding[];
}

describeEachStore('posture report', (kind) => {
  const h = useHarness(kind);
  let report: Report;
  let longTask: string;

  before(async () => {
    const agent = await h.registerAgent('agent-a');
    await h.registerAgent('post-noowner');
    await h.admin.patch('/agents/post-noowner', { owner: 'unassigned' });
    await h.registerAgent('post-owned');
    await h.admin.patch('/agents/post-owned', { owner: 'dev:bob' });
    await h.admin.post('/revocations', { target: { type: 'user', userId: 'dev:bob' }, reason: 'bob left' });
    await h.admin.post('/grants', { id: 'post-unused', policy: 'permit (principal == Writ::Agent::"post-owned", action, resource);' });
    await h.admin.post('/resources', {
      id: 'post-bearer',
      kind: 'mcp',
      mcp: { upstreams: [{ transport: 'http', url: 'http://127.0.0.1:9/mcp' }], bearer: { allowed: true, maxLifetimeSeconds: 120 } },
    });
    await h.admin.put('/secrets/post-old', { value: 'an-old-secret-value-123', description: 'old' });
    // agent-a uses the default grant; a task of its own lives on.
    const task = await h.startTask(agent, { details: READ });
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    longTask = task.id;
    // Age what only time makes a finding, in the store rather than by waiting.
    const now = h.clock.now();
    const db = h.store.db;
    await db
      .updateTable('grants')
      .set({ created_at: now - 60 * DAY })
      .where('id', '=', 'post-unused')
      .execute();
    await db
      .updateTable('agents')
      .set({ created_at: now - 120 * DAY })
      .where('id', '=', 'post-noowner')
      .execute();
    await db
      .updateTable('secrets')
      .set({ updated_at: now - 200 * DAY })
      .where('id', '=', 'post-old')
      .execute();
    await db
      .updateTable('tasks')
      .set({ created_at: now - 2 * DAY })
      .where('id', '=', longTask)
      .execute();
    await h.writ.flushAudit();
    report = await h.admin.get<Report>('/posture');
  });

  const find = (code: string, id: string): Finding | undefined => report.findings.find((f) => f.code === code && f.item.id === id);

  test('each finding names its item, why, the fix and its mappings', () => {
    const noOwner = find('agent.no_owner', 'post-noowner');
    assert.ok(noOwner !== undefined, JSON.stringify(report.findings.map((f) => [f.code, f.item.id])));
    assert.equal(noOwner.severity, 'high');
    assert.match(noOwner.fix, /writ agents update post-noowner --owner/);
    assert.deepEqual(noOwner.mappings.owaspNhi, ['NHI1:2025 Improper Offboarding']);
    assert.deepEqual(noOwner.mappings.nistCsf, ['PR.AA-01']);
    assert.ok(find('agent.never_used', 'post-noowner') !== undefined);
    assert.equal(find('agent.owner_offboarded', 'post-owned')?.severity, 'high');
    const unused = find('grant.unused', 'post-unused');
    assert.deepEqual(unused?.mappings.owaspNhi, ['NHI5:2025 Overprivileged NHI']);
    assert.deepEqual(unused?.mappings.owaspAgentic, ['ASI03 Identity and Privilege Abuse']);
    assert.deepEqual(unused?.mappings.nistCsf, ['PR.AA-05']);
    // The default grant was used in the window: not reported as unused.
    assert.equal(find('grant.unused', 'default'), undefined);
    assert.deepEqual(find('resource.accepts_bearer', 'post-bearer')?.mappings.nistCsf, ['PR.AA-04']);
    assert.ok(find('task.long_lived', longTask) !== undefined);
    assert.deepEqual(find('secret.not_rotated', 'post-old')?.mappings.owaspNhi, ['NHI7:2025 Long-Lived Secrets']);
    assert.ok(find('admin_token.fixed', 'WRIT_ADMIN_TOKEN') !== undefined);
    // Nothing is reported about what is fine.
    assert.equal(find('secret.not_rotated', 'api-key'), undefined);
    assert.equal(report.findings.filter((f) => f.item.id === 'agent-a').length, 0);
  });

  test('highest severity first; the summary counts them; the windows are parameters', async () => {
    const rank = { high: 0, medium: 1, low: 2 };
    for (let i = 1; i < report.findings.length; i++)
      assert.ok(rank[report.findings[i - 1]!.severity] <= rank[report.findings[i]!.severity]);
    assert.equal(report.summary['high'], report.findings.filter((f) => f.severity === 'high').length);
    const lenient = await h.admin.get<Report>('/posture?rotateDays=365&taskHours=72');
    assert.equal(
      lenient.findings.find((f) => f.code === 'secret.not_rotated' && f.item.id === 'post-old'),
      undefined,
    );
    assert.equal(
      lenient.findings.find((f) => f.code === 'task.long_lived'),
      undefined,
    );
    await assert.rejects(h.admin.get('/posture?windowDays=0'), (err: unknown) => err instanceof AdminClientError && err.status === 400);
  });

  test('Markdown: one row per finding, with the mappings', () => {
    const md = markdown(report);
    assert.match(md, /^# Writ posture report/);
    assert.match(md, /\| severity \| finding \| item \| why \| fix \| OWASP NHI \| OWASP Agentic \| NIST CSF \|/);
    assert.match(md, /\| high \| `agent\.no_owner` \| agent post-noowner \|/);
    assert.equal(
      md.split('\n').filter((l) => l.startsWith('| high') || l.startsWith('| medium') || l.startsWith('| low')).length,
      report.findings.length,
    );
  });
});
