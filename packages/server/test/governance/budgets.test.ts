/**
 * Budgets and rate limits, on every store: a grant's `@budget` puts the task's limits into its token
 * (`writ_budget`), the task request narrows them and never widens them; a call past the task's budget in all or per
 * action is refused 429 ERR_BUDGET_EXHAUSTED, past a per-minute limit (the task's, the agent's or the user's) 429
 * ERR_RATE_LIMITED, each with Retry-After and nothing sent upstream; the next minute lets calls through again; over
 * MCP the refusal is a JSON-RPC error with the same code. (Two gateway nodes racing one budget: cluster.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch, type Task } from '@writ/agent';
import { budgetOf, type TaskAuthorizationDetail } from '@writ/protocol';
import { AdminClientError } from '../../src/admin-client/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';

const BUDGETED = `@budget("calls=5, calls_per_action=3")
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && ["GET", "POST"].contains(context.method) && context.path like "/v1/*" };`;
const RATE_LIMITED = `@budget("agent_calls_per_minute=2")
permit (principal == Writ::Agent::"agent-rl", action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && context.path like "/v1/*" };`;
const MCP_BUDGET = `@budget("calls_per_minute=1")
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools");`;
const READ: TaskAuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }];

describeEachStore('budgets and rate limits', (kind) => {
  const h = useHarness(kind, { grant: BUDGETED, config: { 'dpop.proofMaxAgeSeconds': 300 } });
  let agent: TestAgent;
  let rateLimited: TestAgent;
  let upstream: McpTestUpstream;

  before(async () => {
    agent = await h.registerAgent('agent-a');
    rateLimited = await h.registerAgent('agent-rl');
    await h.admin.post('/grants', { id: 'rate-limited', policy: RATE_LIMITED });
    upstream = await startMcpTestUpstream();
    await h.admin.post('/resources', { id: 'tools', kind: 'mcp', baseUrl: upstream.url });
    await h.admin.post('/grants', { id: 'tools', policy: MCP_BUDGET });
  });
  after(async () => {
    await upstream?.close();
  });

  const get = async (task: Task, path: string): Promise<{ status: number; code?: string; retryAfter: string | null }> => {
    const res = await task.fetch(`${h.resourceUri('api')}${path}`);
    const body = (await res.json()) as { code?: string };
    return { status: res.status, ...(body.code !== undefined ? { code: body.code } : {}), retryAfter: res.headers.get('retry-after') };
  };

  test("the grant's @budget is in the token; the request narrows it, never widens it", async () => {
    const plain = await h.startTask(agent, { details: READ });
    assert.deepEqual(budgetOf(plain.authorizationDetails), { type: 'writ_budget', calls: 5, calls_per_action: 3 });
    const narrowed = await h.startTask(agent, { details: [...READ, { type: 'writ_budget', calls: 2, calls_per_minute: 10 }] });
    assert.deepEqual(budgetOf(narrowed.authorizationDetails), { type: 'writ_budget', calls: 2, calls_per_action: 3, calls_per_minute: 10 });
    const wider = await h.startTask(agent, { details: [...READ, { type: 'writ_budget', calls: 1000 }] });
    assert.deepEqual(budgetOf(wider.authorizationDetails), { type: 'writ_budget', calls: 5, calls_per_action: 3 });
    for (const bad of [
      [...READ, { type: 'writ_budget' }],
      [...READ, { type: 'writ_budget', calls: 0 }],
      [...READ, { type: 'writ_budget', calls: 1.5 }],
      [...READ, { type: 'writ_budget', calls: 1, tokens: 5 }],
      [...READ, { type: 'writ_budget', calls: 1 }, { type: 'writ_budget', calls: 2 }],
    ])
      await assert.rejects(h.startTask(agent, { details: bad as TaskAuthorizationDetail[] }), /invalid_authorization_details/);
  });

  test('past the budget per action, then in all: 429 ERR_BUDGET_EXHAUSTED with Retry-After, nothing sent upstream', async () => {
    const task = await h.startTask(agent, { details: READ });
    for (let i = 0; i < 3; i++) assert.equal((await get(task, '/v1/a')).status, 200);
    const sent = h.upstream.requests.length;
    const perAction = await get(task, '/v1/a');
    assert.equal(perAction.status, 429);
    assert.equal(perAction.code, 'ERR_BUDGET_EXHAUSTED');
    assert.ok(Number(perAction.retryAfter) > 0, String(perAction.retryAfter));
    assert.equal(h.upstream.requests.length, sent, 'a refused call is not forwarded');
    assert.equal((await get(task, '/v1/b')).status, 200);
    assert.equal((await get(task, '/v1/c')).status, 200);
    assert.equal((await get(task, '/v1/d')).code, 'ERR_BUDGET_EXHAUSTED', 'five calls in all');
    // Another task has its own budget.
    const other = await h.startTask(agent, { details: READ });
    assert.equal((await get(other, '/v1/a')).status, 200);
    await h.writ.flushAudit();
    const denied = await h.admin.get<Array<{ reason: string }>>(`/audit?task=${task.id}&type=call.denied&limit=100`);
    assert.equal(denied.filter((e) => e.reason === 'ERR_BUDGET_EXHAUSTED').length, 2);
  });

  test("an agent's calls per minute, across its tasks: 429 ERR_RATE_LIMITED until the next minute", async () => {
    const a = await h.startTask(rateLimited, { details: READ });
    const b = await h.startTask(rateLimited, { details: READ });
    assert.equal((await get(a, '/v1/x')).status, 200);
    assert.equal((await get(b, '/v1/x')).status, 200);
    const limited = await get(a, '/v1/y');
    assert.equal(limited.status, 429);
    assert.equal(limited.code, 'ERR_RATE_LIMITED');
    const wait = Number(limited.retryAfter);
    assert.ok(wait >= 1 && wait <= 60, String(limited.retryAfter));
    h.clock.advance(wait);
    assert.equal((await get(b, '/v1/y')).status, 200);
  });

  test('over MCP: the refusal is a JSON-RPC error with the code and retry_after', async () => {
    const url = h.mcpUri('tools');
    const task = await h.startTask(agent, { resourceUri: url, details: [{ type: 'mcp', tools: ['echo'] }] });
    const client = new Client({ name: 'budget-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'one' } }), {
      content: [{ type: 'text', text: 'echo: one' }],
    });
    const err = (await client.callTool({ name: 'echo', arguments: { message: 'two' } }).then(
      () => assert.fail('a second call in the minute went through'),
      (e: unknown) => e,
    )) as { code: number; data?: { code?: string; retry_after?: number } };
    assert.equal(err.code, -32003);
    assert.equal(err.data?.code, 'ERR_RATE_LIMITED');
    assert.ok((err.data?.retry_after ?? 0) >= 1);
    await client.close();
  });

  test('@budget names known limits with positive whole numbers, and only on a permit', async () => {
    for (const policy of [
      `@budget("tokens=5") permit (principal, action, resource);`,
      `@budget("calls=0") permit (principal, action, resource);`,
      `@budget("calls=5, calls=6") permit (principal, action, resource);`,
      `@budget permit (principal, action, resource);`,
      `@budget("calls=5") forbid (principal, action, resource);`,
    ])
      await assert.rejects(h.admin.post('/grants', { id: 'bad-budget', policy }), (err: unknown) => {
        assert.ok(err instanceof AdminClientError && err.status === 400, `${policy}: ${String(err)}`);
        return true;
      });
  });
});
