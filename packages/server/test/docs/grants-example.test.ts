/**
 * docs/grants.md's MCP example, exactly as written there: the Cedar block is read from the document, stored as a
 * grant, and then works end to end — issued for a user whose email the grant accepts, and every call it permits
 * goes through, because the call-time request sees the same user entity (email included) that issuance saw. A
 * forbidden tool stays refused at the call.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch } from '@writ/agent';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';

/** The first ```cedar block after the `## MCP tools` heading. */
function mcpExample(): string {
  const doc = readFileSync(new URL('../../../../../docs/grants.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('\n## MCP tools\n'));
  const m = /```cedar\n([\s\S]*?)```/.exec(section);
  assert.ok(m !== null, 'docs/grants.md has a cedar block under "## MCP tools"');
  return m[1] as string;
}

describeEachStore('docs/grants.md MCP example', (kind) => {
  const h = useHarness(kind);
  let upstream: McpTestUpstream;
  let agent: TestAgent;
  before(async () => {
    upstream = await startMcpTestUpstream();
    agent = await h.registerAgent('research-agent');
    await h.admin.post('/resources', { id: 'files', kind: 'mcp', mcp: { upstreams: [{ transport: 'http', url: upstream.url }] } });
    await h.admin.post('/grants', { id: 'research', policy: mcpExample() });
  });
  after(async () => {
    await upstream?.close();
  });

  test('issued for alice@example.com, and the calls it permits succeed; read_secret* is refused at the call', async () => {
    const task = await h.startTask(agent, {
      user: 'alice',
      resourceUri: h.mcpUri('files'),
      details: [{ type: 'mcp', tools: ['search', 'read*'] }],
      purpose: 'docs example',
    });
    assert.deepEqual(
      task.authorizationDetails
        .map((d) => (d.type === 'mcp' ? d.tools : []))
        .flat()
        .sort(),
      ['read*', 'search'],
    );
    const url = h.mcpUri('files');
    const client = new Client({ name: 'docs-example', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    assert.deepEqual(await client.callTool({ name: 'search', arguments: { query: 'q3 report' } }), {
      content: [{ type: 'text', text: 'results for q3 report' }],
    });
    assert.deepEqual(await client.callTool({ name: 'read_file', arguments: { path: '/srv/data/a' } }), {
      content: [{ type: 'text', text: 'contents of /srv/data/a' }],
    });
    await assert.rejects(client.callTool({ name: 'read_secret_key', arguments: {} }), /no grant permits this action|ERR_POLICY_DENIED/);
    assert.ok(!upstream.calls.some((c) => c.tool === 'read_secret_key'), 'the forbidden tool never reached the upstream');
    await client.close();
  });
});
