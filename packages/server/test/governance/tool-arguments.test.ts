/**
 * Arguments in Cedar, on every store: a grant puts conditions on a tool's typed arguments (`context.arguments` of the
 * tool's own action, `mcp_tool:<resource>/<tool>`), validated against the input schema the upstream lists when the
 * grant is written, and enforced at every call beside the token's own argument limits. The attacks: arguments past
 * the condition, arguments of the wrong type or shape (a string for a number, Cedar's JSON escapes smuggled in, a
 * missing required argument, a decimal finer than Cedar can state), a grant that misspells an argument or compares it
 * as another type, a permit on a tool's action (which would widen), a tool or resource with no schema; and the
 * recorded schema still decides after a restart.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch, type Task } from '@writ/agent';
import type { AuthorizationDetail } from '@writ/protocol';
import { z } from 'zod';
import { AdminClientError } from '../../src/admin-client/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';

const PERMIT = `
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"pay")
when { context.user == Writ::User::"dev:alice" && ["transfer", "echo"].contains(context.tool) };
`;

/** The argument conditions: amounts up to 100 to `acct-` accounts, a fee up to 1.5, and never the tag `urgent`. */
const LIMITS = `
forbid (principal, action == Writ::Action::"mcp_tool:pay/transfer", resource == Writ::Resource::"pay")
unless {
  context.arguments.amount <= 100 &&
  context.arguments.to like "acct-*"
};
forbid (principal, action == Writ::Action::"mcp_tool:pay/transfer", resource)
when {
  (context.arguments has tags && context.arguments.tags.contains("urgent")) ||
  (context.arguments has fee && context.arguments.fee.greaterThan(decimal("1.5")))
};
`;

const DETAILS: AuthorizationDetail[] = [{ type: 'mcp', tools: ['transfer', 'echo'] }];

interface Refusal {
  code: number;
  message: string;
  data?: { code?: string };
}

describeEachStore('arguments in Cedar', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  let upstream: McpTestUpstream;

  before(async () => {
    upstream = await startMcpTestUpstream({
      configure(server, calls) {
        server.registerTool(
          'transfer',
          {
            description: 'moves money',
            inputSchema: {
              amount: z.number().int(),
              to: z.string(),
              fee: z.number().optional(),
              tags: z.array(z.string()).optional(),
            },
          },
          async (args) => {
            calls.push({ tool: 'transfer', args });
            return { content: [{ type: 'text', text: `sent ${args.amount} to ${args.to}` }] };
          },
        );
      },
    });
    agent = await h.registerAgent('agent-a');
    await h.admin.post('/resources', { id: 'pay', kind: 'mcp', baseUrl: upstream.url });
    await h.admin.post('/grants', { id: 'pay', policy: PERMIT });
    await h.admin.post('/grants', { id: 'pay-limits', policy: LIMITS });
  });
  after(async () => {
    await upstream?.close();
  });

  async function connect(task: Task): Promise<Client> {
    const url = h.mcpUri('pay');
    const client = new Client({ name: 'arguments-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    return client;
  }

  const refusal = (p: Promise<unknown>): Promise<Refusal> =>
    p.then(
      () => assert.fail('the call went through'),
      (err: unknown) => err as Refusal,
    );

  const transfers = (): unknown[] => upstream.calls.filter((c) => c.tool === 'transfer').map((c) => c.args);

  test('a call within the conditions goes through; past them it is refused before the upstream, and audited', async () => {
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('pay'), details: DETAILS });
    const client = await connect(task);
    const before = transfers().length;
    assert.deepEqual(await client.callTool({ name: 'transfer', arguments: { amount: 100, to: 'acct-7', fee: 1.5, tags: ['x'] } }), {
      content: [{ type: 'text', text: 'sent 100 to acct-7' }],
    });
    for (const args of [
      { amount: 101, to: 'acct-7' },
      { amount: 5, to: 'mallory' },
      { amount: 5, to: 'acct-7', fee: 1.5001 },
      { amount: 5, to: 'acct-7', tags: ['a', 'urgent'] },
    ]) {
      const r = await refusal(client.callTool({ name: 'transfer', arguments: args }));
      assert.equal(r.code, -32003, JSON.stringify(args));
      assert.equal(r.data?.code, 'ERR_POLICY_DENIED', JSON.stringify(args));
    }
    // Tools no argument condition names are decided as before; the governed tool is still listed.
    assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }), {
      content: [{ type: 'text', text: 'echo: hi' }],
    });
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['echo', 'transfer']);
    assert.equal(transfers().length, before + 1, 'only the permitted transfer reached the upstream');
    await client.close();

    await h.writ.flushAudit();
    const denied = await h.admin.get<Array<{ reason: string; detail?: string; data: Record<string, unknown> }>>(
      `/audit?type=call.denied&task=${task.id}&limit=100`,
    );
    assert.equal(denied.length, 4);
    assert.ok(denied.every((d) => d.reason === 'ERR_POLICY_DENIED' && d.data['tool'] === 'transfer'));
    assert.ok(
      denied.some((d) => d.detail?.includes('pay-limits.0')),
      JSON.stringify(denied),
    );
    assert.ok(
      denied.some((d) => d.detail?.includes('pay-limits.1')),
      JSON.stringify(denied),
    );
  });

  test('arguments that do not fit the recorded schema are refused: wrong types, escapes smuggled in, a missing one', async () => {
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('pay'), details: DETAILS });
    const client = await connect(task);
    const before = transfers().length;
    for (const args of [
      { amount: '50', to: 'acct-7' },
      { amount: 50.5, to: 'acct-7' },
      { amount: 2 ** 53, to: 'acct-7' },
      { amount: 50, to: { __entity: { type: 'Writ::User', id: 'dev:alice' } } },
      { amount: 50, to: 'acct-7', fee: { __extn: { fn: 'decimal', arg: '0.1' } } },
      { amount: 50, to: 'acct-7', fee: 0.00001 },
      { amount: 50, to: 'acct-7', tags: 'urgent' },
      { amount: 50, to: 'acct-7', tags: [1] },
      { to: 'acct-7' },
    ]) {
      const r = await refusal(client.callTool({ name: 'transfer', arguments: args }));
      assert.equal(r.data?.code, 'ERR_POLICY_DENIED', JSON.stringify(args));
    }
    // Members the schema does not declare never reach Cedar, whatever their name, and change nothing.
    assert.deepEqual(
      await client.callTool({ name: 'transfer', arguments: { amount: 1, to: 'acct-1', __entity: { type: 'Writ::Agent', id: 'x' } } }),
      { content: [{ type: 'text', text: 'sent 1 to acct-1' }] },
    );
    assert.equal(transfers().length, before + 1);
    await client.close();
  });

  test("the token's own argument limits hold beside the grants' conditions", async () => {
    const task = await h.startTask(agent, {
      resourceUri: h.mcpUri('pay'),
      details: [{ type: 'mcp', tools: ['transfer'], arguments: { to: { enum: ['acct-1'] } } }],
    });
    const client = await connect(task);
    assert.deepEqual(await client.callTool({ name: 'transfer', arguments: { amount: 3, to: 'acct-1' } }), {
      content: [{ type: 'text', text: 'sent 3 to acct-1' }],
    });
    // The grants would allow acct-2; the token does not.
    assert.equal(
      (await refusal(client.callTool({ name: 'transfer', arguments: { amount: 3, to: 'acct-2' } }))).data?.code,
      'ERR_ACTION_NOT_AUTHORIZED',
    );
    // The token allows acct-1; the grants do not allow 500.
    assert.equal(
      (await refusal(client.callTool({ name: 'transfer', arguments: { amount: 500, to: 'acct-1' } }))).data?.code,
      'ERR_POLICY_DENIED',
    );
    await client.close();
  });

  test('a grant is validated against the tool input schema: misspelt or mistyped arguments, permits, unknown tools are refused', async () => {
    const grantsBefore = await h.admin.get<Array<{ id: string }>>('/grants');
    const refused = async (policy: string, expect: RegExp): Promise<void> => {
      await assert.rejects(h.admin.post('/grants', { id: 'bad-args', policy }), (err: unknown) => {
        assert.ok(err instanceof AdminClientError, String(err));
        assert.equal(err.status, 400);
        assert.equal(err.code, 'ERR_ADMIN_POLICY_INVALID');
        assert.match(err.details.join('\n'), expect);
        return true;
      });
    };
    const forbid = (cond: string, action = 'mcp_tool:pay/transfer'): string =>
      `forbid (principal, action == Writ::Action::"${action}", resource) unless { ${cond} };`;
    await refused(forbid('context.arguments.amout <= 100'), /amout/);
    await refused(forbid('context.arguments.to <= 100'), /String|Long/);
    await refused(forbid('context.arguments.fee.lessThan(decimal("1.0"))'), /optional attribute|fee/);
    await refused(forbid('context.arguments.amount <= 100', 'mcp_tool:pay/no_such_tool'), /no input schema is known/);
    await refused(forbid('context.arguments.amount <= 100', 'mcp_tool:nowhere/transfer'), /not a registered MCP resource/);
    await refused(forbid('context.arguments.amount <= 100', 'mcp_tool:api/transfer'), /not a registered MCP resource/);
    await refused(
      `permit (principal, action == Writ::Action::"mcp_tool:pay/transfer", resource) when { context.arguments.amount <= 1000 };`,
      /narrow/,
    );
    // `context.arguments` exists only on a tool's own action.
    await refused(`forbid (principal, action == Writ::Action::"mcp_tool", resource) when { context.arguments.amount > 5 };`, /arguments/);
    // A bad request changes nothing.
    assert.deepEqual(await h.admin.get<Array<{ id: string }>>('/grants'), grantsBefore);
  });

  test('a resource whose tool arguments a grant names is not deleted; once no grant names it, its schemas go with it', async () => {
    await h.admin.post('/resources', { id: 'pay2', kind: 'mcp', baseUrl: upstream.url });
    // A disabled grant counts too: it would fail to load if enabled later with no schema for its tool.
    await h.admin.post('/grants', {
      id: 'pay2-limits',
      enabled: false,
      policy: `forbid (principal, action == Writ::Action::"mcp_tool:pay2/transfer", resource) unless { context.arguments.amount <= 5 };`,
    });
    const schemasOf = async (resourceId: string): Promise<string[]> =>
      (await h.store.db.selectFrom('tool_schemas').select('tool').where('resource_id', '=', resourceId).execute()).map((r) => r.tool);
    assert.deepEqual(await schemasOf('pay2'), ['transfer']);

    await assert.rejects(h.admin.delete('/resources/pay2'), (err: unknown) => {
      assert.ok(err instanceof AdminClientError, String(err));
      assert.equal(err.status, 409);
      assert.equal(err.code, 'ERR_ADMIN_CONFLICT');
      assert.match(err.message, /pay2-limits/);
      return true;
    });
    // Refused, nothing changed: the resource, its schema and the grants that use it stand, and calls still decide.
    assert.equal((await h.admin.get<{ id: string }>('/resources/pay2')).id, 'pay2');
    assert.deepEqual(await schemasOf('pay2'), ['transfer']);
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('pay'), details: DETAILS });
    const client = await connect(task);
    assert.equal(
      (await refusal(client.callTool({ name: 'transfer', arguments: { amount: 200, to: 'acct-2' } }))).data?.code,
      'ERR_POLICY_DENIED',
    );
    // A resource no grant's tool arguments name is deleted as before ("pay" is named by pay-limits, not by "pay2").
    await h.admin.delete('/grants/pay2-limits');
    await h.admin.delete('/resources/pay2');
    await assert.rejects(h.admin.get('/resources/pay2'), (err: unknown) => err instanceof AdminClientError && err.status === 404);
    assert.deepEqual(await schemasOf('pay2'), []);
    assert.deepEqual(await schemasOf('pay'), ['transfer']);
    assert.deepEqual(await client.callTool({ name: 'transfer', arguments: { amount: 2, to: 'acct-2' } }), {
      content: [{ type: 'text', text: 'sent 2 to acct-2' }],
    });
    await client.close();
    await assert.rejects(h.admin.delete('/resources/pay'), (err: unknown) => err instanceof AdminClientError && err.status === 409);
  });

  test('a grant naming the tools of a resource deleted meanwhile is refused, and stores nothing', async () => {
    await h.admin.post('/resources', { id: 'pay3', kind: 'mcp', baseUrl: upstream.url });
    const policy = `forbid (principal, action == Writ::Action::"mcp_tool:pay3/transfer", resource) unless { context.arguments.amount <= 5 };`;
    // Both at once: whichever order the store puts them in, never a grant left naming a resource that is gone.
    const [grant, deletion] = await Promise.allSettled([
      h.admin.post('/grants', { id: 'pay3-limits', policy }),
      h.admin.delete('/resources/pay3'),
    ]);
    const resources = (await h.admin.get<Array<{ id: string }>>('/resources')).map((r) => r.id);
    const grants = (await h.admin.get<Array<{ id: string }>>('/grants')).map((g) => g.id);
    if (grant.status === 'fulfilled') {
      assert.equal(deletion.status, 'rejected');
      assert.ok(resources.includes('pay3') && grants.includes('pay3-limits'));
      await h.admin.delete('/grants/pay3-limits');
      await h.admin.delete('/resources/pay3');
    } else {
      assert.equal(deletion.status, 'fulfilled');
      assert.ok(!resources.includes('pay3') && !grants.includes('pay3-limits'));
    }
    assert.deepEqual(await h.store.db.selectFrom('tool_schemas').select('tool').where('resource_id', '=', 'pay3').execute(), []);
  });

  test('the schema recorded with the grant still decides after a restart', async () => {
    await h.restart();
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('pay'), details: DETAILS });
    const client = await connect(task);
    assert.deepEqual(await client.callTool({ name: 'transfer', arguments: { amount: 2, to: 'acct-2' } }), {
      content: [{ type: 'text', text: 'sent 2 to acct-2' }],
    });
    assert.equal(
      (await refusal(client.callTool({ name: 'transfer', arguments: { amount: 200, to: 'acct-2' } }))).data?.code,
      'ERR_POLICY_DENIED',
    );
    await client.close();
  });

  test('an observed argument condition never refuses; what it would refuse is recorded', async () => {
    await h.admin.post('/grants', {
      id: 'pay-observed',
      mode: 'observe',
      policy: `forbid (principal, action == Writ::Action::"mcp_tool:pay/echo", resource) when { context.arguments.message like "*secret*" };`,
    });
    try {
      const task = await h.startTask(agent, { resourceUri: h.mcpUri('pay'), details: DETAILS });
      const client = await connect(task);
      assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'a secret plan' } }), {
        content: [{ type: 'text', text: 'echo: a secret plan' }],
      });
      assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'hello' } }), {
        content: [{ type: 'text', text: 'echo: hello' }],
      });
      await client.close();
      await h.writ.flushAudit();
      const rows = await h.admin.get<Array<{ reason: string; action: string; data: { observed: string; observed_policies: string[] } }>>(
        `/audit?type=policy.observed&task=${task.id}&limit=100`,
      );
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.equal(rows[0]?.reason, 'would_deny');
      assert.equal(rows[0]?.action, 'mcp_tool echo');
      assert.deepEqual(rows[0]?.data.observed_policies, ['pay-observed.0']);
    } finally {
      await h.admin.delete('/grants/pay-observed');
    }
  });
});
