/**
 * Call-bound approvals, on every store, with the stock MCP SDK client and the HTTP gateway: a call an `@approval`
 * grant permits is held back (nothing reaches the upstream) with the approval's id, page and poll URL; once approved
 * the same call goes through exactly once; other arguments, another task, an expired or denied approval do not; only
 * the approvers the grant names may decide (the user, a group member, operators where `admin` is named), on Writ's
 * page signed in at the identity provider or through the admin API; every step is in the task's audit chain.
 */
import assert from 'node:assert/strict';
import { before, after, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch, type Task } from '@writ/agent';
import { ScriptedBrowser } from '@writ/dev';
import type { AuthorizationDetail } from '@writ/protocol';
import { AdminClientError } from '../../src/admin-client/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { AUTHORIZATION_SERVER_CONFIG } from '../helpers/authorization-harness.js';
import { NOWHERE, signIn, type Page } from '../helpers/connect-account.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';

const MCP_GRANT = `
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools")
when { context.user == Writ::User::"dev:alice" };
@approval("user, admin")
permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools") when { context.tool == "add" };
`;
const HTTP_APPROVAL = `@approval("group:secops")
permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.method == "POST" };`;
const MCP_DETAILS: AuthorizationDetail[] = [{ type: 'mcp', tools: ['echo', 'add'] }];
const HTTP_DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/*'] }];

interface Refusal {
  code: number;
  data?: { code?: string; approval_id?: string; approval_url?: string; poll_url?: string };
}
interface ApprovalView {
  id: string;
  status: string;
  approvers: string[];
  call: { action: string; target: string; arguments: unknown; taskChain: string[] };
}

describeEachStore('call-bound approvals', (kind) => {
  const h = useHarness(kind, {
    config: { ...AUTHORIZATION_SERVER_CONFIG, 'approvals.pendingSeconds': 30, 'approvals.approvedSeconds': 10 },
  });
  let agent: TestAgent;
  let upstream: McpTestUpstream;

  before(async () => {
    upstream = await startMcpTestUpstream();
    agent = await h.registerAgent('agent-a');
    await h.admin.post('/resources', { id: 'tools', kind: 'mcp', baseUrl: upstream.url });
    await h.admin.post('/grants', { id: 'tools', policy: MCP_GRANT });
    await h.admin.post('/grants', { id: 'api-approval', policy: HTTP_APPROVAL });
  });
  after(async () => {
    await upstream?.close();
  });

  async function connect(task: Task): Promise<Client> {
    const url = h.mcpUri('tools');
    const client = new Client({ name: 'approval-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    return client;
  }

  const refusal = (p: Promise<unknown>): Promise<Refusal> =>
    p.then(
      () => assert.fail('the call went through without an approval'),
      (err: unknown) => err as Refusal,
    );

  const poll = async (url: string): Promise<string> => ((await (await fetch(url)).json()) as { status: string }).status;
  const addCalls = (): number => upstream.calls.filter((c) => c.tool === 'add').length;

  test('held back until approved, then exactly once; other arguments and other tasks need their own', async () => {
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('tools'), details: MCP_DETAILS });
    const client = await connect(task);
    // A tool without @approval is untouched.
    assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }), {
      content: [{ type: 'text', text: 'echo: hi' }],
    });
    const before = addCalls();
    const held = await refusal(client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
    assert.equal(held.code, -32003);
    assert.equal(held.data?.code, 'ERR_APPROVAL_REQUIRED');
    const id = held.data?.approval_id as string;
    assert.match(id, /^apr_/);
    assert.equal(held.data?.approval_url, `${h.writ.publicUrl}/oauth2/approvals/${id}`);
    assert.equal(await poll(held.data?.poll_url as string), 'pending');
    // Asking again while it waits names the same approval.
    assert.equal((await refusal(client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).data?.approval_id, id);
    assert.equal(addCalls(), before, 'nothing reached the upstream');

    const shown = await h.admin.get<ApprovalView>(`/approvals/${id}`);
    assert.deepEqual(shown.call.arguments, { a: 1, b: 2 });
    assert.deepEqual(shown.approvers, ['user', 'admin']);
    assert.deepEqual(shown.call.taskChain, [task.id]);
    await h.admin.post(`/approvals/${id}/approve`, { reason: 'looks fine' });
    assert.equal(await poll(held.data?.poll_url as string), 'approved');

    // Other arguments: an approval of their own.
    const other = await refusal(client.callTool({ name: 'add', arguments: { a: 1, b: 3 } }));
    assert.notEqual(other.data?.approval_id, id);
    // Another task, the same call: its own too.
    const task2 = await h.startTask(agent, { resourceUri: h.mcpUri('tools'), details: MCP_DETAILS });
    const client2 = await connect(task2);
    const elsewhere = await refusal(client2.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
    assert.equal(elsewhere.data?.code, 'ERR_APPROVAL_REQUIRED');
    assert.notEqual(elsewhere.data?.approval_id, id);
    await client2.close();

    // The approved call, once.
    assert.deepEqual(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }), {
      content: [{ type: 'text', text: '3' }],
      structuredContent: { sum: 3 },
    });
    assert.equal(addCalls(), before + 1);
    assert.equal(await poll(held.data?.poll_url as string), 'used');
    const again = await refusal(client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
    assert.equal(again.data?.code, 'ERR_APPROVAL_REQUIRED');
    assert.notEqual(again.data?.approval_id, id);
    assert.equal(addCalls(), before + 1);
    await client.close();

    // Request, decision and use are in the task's chain.
    await h.writ.flushAudit();
    const chain = await h.admin.get<Array<{ type: string; data?: { approval?: string } }>>(`/audit?task=${task.id}&limit=500`);
    for (const type of ['approval.requested', 'approval.decided', 'approval.used'])
      assert.ok(
        chain.some((e) => e.type === type && e.data?.approval === id),
        type,
      );
    assert.ok(chain.some((e) => e.type === 'call.allowed' && e.data?.approval === id));
  });

  test('denied, expired, and decided twice: nothing goes through', async () => {
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('tools'), details: MCP_DETAILS });
    const client = await connect(task);
    const denied = await refusal(client.callTool({ name: 'add', arguments: { a: 5, b: 5 } }));
    await h.admin.post(`/approvals/${denied.data?.approval_id}/deny`, { reason: 'no' });
    assert.equal((await refusal(client.callTool({ name: 'add', arguments: { a: 5, b: 5 } }))).data?.code, 'ERR_APPROVAL_DENIED');
    await assert.rejects(h.admin.post(`/approvals/${denied.data?.approval_id}/approve`, { reason: 'changed my mind' }), (err: unknown) => {
      assert.ok(err instanceof AdminClientError && err.status === 409, String(err));
      return true;
    });

    // Approved, but not used within approvals.approvedSeconds: the call must be approved again.
    const late = await refusal(client.callTool({ name: 'add', arguments: { a: 6, b: 6 } }));
    await h.admin.post(`/approvals/${late.data?.approval_id}/approve`, { reason: 'ok' });
    h.clock.advance(11);
    const expired = await refusal(client.callTool({ name: 'add', arguments: { a: 6, b: 6 } }));
    assert.equal(expired.data?.code, 'ERR_APPROVAL_REQUIRED');
    assert.notEqual(expired.data?.approval_id, late.data?.approval_id);
    // Pending past approvals.pendingSeconds: it can no longer be decided.
    h.clock.advance(31);
    await assert.rejects(h.admin.post(`/approvals/${expired.data?.approval_id}/approve`, { reason: 'too late' }), (err: unknown) => {
      assert.ok(err instanceof AdminClientError && err.status === 409, String(err));
      return true;
    });
    assert.equal(await poll(expired.data?.poll_url as string), 'expired');
    await client.close();
  });

  test('a client that takes URL elicitation is asked to open the approval page', async () => {
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('tools'), details: MCP_DETAILS });
    const url = h.mcpUri('tools');
    const client = new Client({ name: 'elicits', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    const err = (await refusal(client.callTool({ name: 'add', arguments: { a: 7, b: 7 } }))) as Refusal & {
      data?: { elicitations?: Array<{ mode: string; url: string }> };
    };
    assert.equal(err.code, -32042);
    assert.equal(err.data?.elicitations?.[0]?.mode, 'url');
    assert.match(err.data?.elicitations?.[0]?.url ?? '', /\/oauth2\/approvals\/apr_/);
    await client.close();
  });

  test('HTTP: the body is part of the call; only the group the grant names may approve, on the page', async () => {
    const task = await h.startTask(agent, { details: HTTP_DETAILS });
    const url = `${h.resourceUri('api')}/v1/projects`;
    const before = h.upstream.requests.length;
    const res = await task.fetch(url, { method: 'POST', body: '{"name":"x"}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { code: string; approval_id: string; approval_url: string; poll_url: string };
    assert.equal(body.code, 'ERR_APPROVAL_REQUIRED');
    assert.equal(h.upstream.requests.length, before, 'nothing reached the upstream');
    const shown = await h.admin.get<ApprovalView>(`/approvals/${body.approval_id}`);
    assert.equal(shown.call.action, 'POST');
    assert.equal(shown.call.target, '/v1/projects');
    assert.equal((shown.call.arguments as { body_text: string }).body_text, '{"name":"x"}');

    // Operators are not named by this grant: the admin API may not decide it.
    await assert.rejects(h.admin.post(`/approvals/${body.approval_id}/approve`, { reason: 'op' }), (err: unknown) => {
      assert.ok(err instanceof AdminClientError && err.status === 403, String(err));
      return true;
    });
    // alice (the user, but not in secops) is refused the page; a forged form is refused.
    const alice = new ScriptedBrowser(NOWHERE);
    const refused = await signInAs(alice, body.approval_url, 'alice');
    assert.equal(refused.status, 403);
    const forged = await alice.submit(body.approval_url, { csrf: 'forged', decision: 'approve' });
    assert.equal(forged.status, 403);
    await h.writ.flushAudit();
    const refusals = await h.admin.get<Array<{ type: string; reason: string; data?: { by?: string } }>>(`/audit?task=${task.id}&limit=500`);
    assert.ok(
      refusals.some((e) => e.type === 'approval.refused' && e.data?.by === 'user:dev:alice'),
      'the refused viewer is audited',
    );
    // carol (secops) sees the exact call and approves it.
    const carol = new ScriptedBrowser(NOWHERE);
    const page = await signInAs(carol, body.approval_url, 'carol');
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.match(page.body, /\/v1\/projects/);
    // The body exactly as sent (a JSON string inside the arguments' JSON, HTML-escaped).
    assert.ok(page.body.includes('\\&#34;name\\&#34;:\\&#34;x\\&#34;'), page.body);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const decided = await carol.submit(body.approval_url, { csrf, decision: 'approve', reason: 'release window' });
    assert.equal(decided.status, 200);
    assert.match(decided.body, /approved/);
    assert.equal((await h.admin.get<ApprovalView>(`/approvals/${body.approval_id}`)).status, 'approved');

    // Another body is another call.
    const changed = await task.fetch(url, { method: 'POST', body: '{"name":"y"}', headers: { 'content-type': 'application/json' } });
    assert.equal(changed.status, 403);
    assert.notEqual(((await changed.json()) as { approval_id: string }).approval_id, body.approval_id);
    // The approved one goes through, with its body.
    const sent = await task.fetch(url, { method: 'POST', body: '{"name":"x"}', headers: { 'content-type': 'application/json' } });
    assert.equal(sent.status, 200);
    assert.equal(h.upstream.requests.at(-1)?.body.toString('utf8'), '{"name":"x"}');
    // GET needs no approval.
    assert.equal((await task.fetch(url)).status, 200);
  });

  test('arguments that cannot be read: listed as such, the page offers no Approve and refuses one, denying works', async () => {
    const task = await h.startTask(agent, { details: HTTP_DETAILS });
    const url = `${h.resourceUri('api')}/v1/projects`;
    const hold = async (body: string): Promise<{ approval_id: string; approval_url: string }> => {
      const res = await task.fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 403);
      return (await res.json()) as { approval_id: string; approval_url: string };
    };
    const a = await hold('{"name":"sealed-a"}');
    const b = await hold('{"name":"sealed-b"}');
    // b's row carries a's envelope, which is bound to a's id: it opens for no one.
    const envelope = (
      await h.store.db.selectFrom('approvals').select('arguments_envelope').where('id', '=', a.approval_id).executeTakeFirstOrThrow()
    ).arguments_envelope;
    await h.store.db.updateTable('approvals').set({ arguments_envelope: envelope }).where('id', '=', b.approval_id).execute();

    const listed = await h.admin.get<Array<ApprovalView & { argumentsUnreadable?: boolean }>>('/approvals?status=pending&limit=1000');
    assert.equal(listed.find((x) => x.id === b.approval_id)?.argumentsUnreadable, true);
    assert.equal(listed.find((x) => x.id === a.approval_id)?.argumentsUnreadable, undefined, 'the other still reads');

    const carol = new ScriptedBrowser(NOWHERE);
    const page = await signInAs(carol, b.approval_url, 'carol');
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.match(page.body, /arguments cannot be read/);
    assert.ok(!page.body.includes('value="approve"'), 'no Approve button');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const approved = await carol.submit(b.approval_url, { csrf, decision: 'approve' });
    assert.equal(approved.status, 409);
    assert.equal((await h.admin.get<ApprovalView>(`/approvals/${b.approval_id}`)).status, 'pending');
    const denied = await carol.submit(b.approval_url, { csrf, decision: 'deny', reason: 'cannot see it' });
    assert.equal(denied.status, 200);
    assert.equal((await h.admin.get<ApprovalView>(`/approvals/${b.approval_id}`)).status, 'denied');
    await h.writ.flushAudit();
    const audit = await h.admin.get<Array<{ type: string; reason: string; data?: { approval?: string } }>>(
      `/audit?task=${task.id}&limit=500`,
    );
    assert.ok(
      audit.some((e) => e.type === 'approval.refused' && e.reason === 'arguments_unreadable' && e.data?.approval === b.approval_id),
    );
  });

  test('grants: @approval names only known approvers, and only on a permit', async () => {
    for (const policy of [
      `@approval("root") permit (principal, action, resource);`,
      `@approval("user, everyone") permit (principal, action, resource);`,
      `@approval forbid (principal, action, resource);`,
    ]) {
      await assert.rejects(h.admin.post('/grants', { id: 'bad-approval', policy }), (err: unknown) => {
        assert.ok(err instanceof AdminClientError && err.status === 400, `${policy}: ${String(err)}`);
        return true;
      });
    }
    await assert.rejects(h.admin.get('/approvals/apr_nope'), (err: unknown) => err instanceof AdminClientError && err.status === 404);
    assert.equal((await fetch(`${h.writ.publicUrl}/approvals/v1/apr_${'x'.repeat(24)}`)).status, 404);
  });

  /** Opens an approval page in `browser`, signing in at the dev provider as `username`. */
  async function signInAs(browser: ScriptedBrowser, approvalUrl: string, username: string): Promise<Page> {
    const password = h.idp.accounts.find((a) => a.username === username)?.password ?? '';
    return signIn(browser, await browser.get(approvalUrl), username, password);
  }
});
