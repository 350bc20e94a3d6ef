/**
 * The MCP gateway in front of real third-party MCP servers, with the stock SDK client: server-everything over
 * Streamable HTTP (started by Writ on loopback only) and server-filesystem over stdio (spawned by Writ per session),
 * alone and as one composite resource. Permitted calls give exactly what a direct connection gives; a tool outside
 * the task is neither listed nor callable; a read outside the granted directory never reaches the server; the
 * agent's roots never widen the filesystem server; revoking the task cuts the open session.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createMcpFetch, type Task } from '@writ/agent';
import type { AuthorizationDetail } from '@writ/protocol';
import { silentLogger } from '../../src/observability/index.js';
import { LoopbackHttpProcess } from '../../src/gateway/mcp/upstream/index.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { startHarness, type Harness, type TestAgent } from '../helpers/writ-harness.js';

const require = createRequire(import.meta.url);
const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
const FILESYSTEM = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');

const GRANT = `
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource)
when { context.user == Writ::User::"dev:alice" && [Writ::Resource::"everything", Writ::Resource::"files", Writ::Resource::"combo"].contains(resource) };
`;

// Only the SQLite store: these tests are about the gateway and real servers, not the store (covered elsewhere).
const kinds = STORE_KINDS.filter((k) => k.name === 'sqlite');

for (const kind of kinds) {
  test(`mcp gateway with real servers [${kind.name}]`, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'writ-fs-'));
    mkdirSync(join(root, 'granted'));
    mkdirSync(join(root, 'other'));
    writeFileSync(join(root, 'granted', 'notes.txt'), 'granted notes\n');
    writeFileSync(join(root, 'other', 'secret.txt'), 'not for this task\n');
    const h: Harness = await startHarness(kind);
    const agent: TestAgent = await h.registerAgent('agent-a');
    const direct = await LoopbackHttpProcess.start({ resourceId: 'direct', args: [EVERYTHING, 'streamableHttp'], logger: silentLogger() });
    t.after(async () => {
      await h.close();
      await direct.close();
      rmSync(root, { recursive: true, force: true });
    });
    const everything = { name: 'everything', transport: 'http-process', args: [EVERYTHING, 'streamableHttp'] };
    const files = { name: 'files', transport: 'stdio', command: process.execPath, args: [FILESYSTEM, root] };
    await h.admin.post('/resources', { id: 'everything', kind: 'mcp', mcp: { upstreams: [everything] } });
    await h.admin.post('/resources', { id: 'files', kind: 'mcp', mcp: { upstreams: [files] } });
    await h.admin.post('/resources', { id: 'combo', kind: 'mcp', mcp: { upstreams: [everything, files] } });
    await h.admin.post('/grants', { id: 'mcp', policy: GRANT });

    const task = (resource: string, details: AuthorizationDetail[]): Promise<Task> =>
      h.startTask(agent, { resourceUri: h.mcpUri(resource), details, purpose: 'real servers' });
    const open = async (resource: string, tk: Task, roots?: string[]): Promise<Client> => {
      const url = h.mcpUri(resource);
      const client = new Client({ name: 'agent', version: '1.0.0' }, { capabilities: roots !== undefined ? { roots: {} } : {} });
      if (roots !== undefined) client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: roots.map((uri) => ({ uri })) }));
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task: tk, url }) }));
      return client;
    };

    await t.test("server-everything over HTTP: identical results, only the task's tools, the rest refused", async () => {
      const tk = await task('everything', [{ type: 'mcp', tools: ['echo', 'get-sum'] }]);
      const client = await open('everything', tk);
      assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), ['echo', 'get-sum']);
      const viaWrit = await client.callTool({ name: 'get-sum', arguments: { a: 19, b: 23 } });
      const plain = new Client({ name: 'direct', version: '1.0.0' });
      await plain.connect(new StreamableHTTPClientTransport(new URL(direct.url)));
      assert.deepEqual(viaWrit, await plain.callTool({ name: 'get-sum', arguments: { a: 19, b: 23 } }));
      assert.deepEqual(
        await client.callTool({ name: 'echo', arguments: { message: 'hi' } }),
        await plain.callTool({ name: 'echo', arguments: { message: 'hi' } }),
      );
      await plain.close();
      // get-env would hand the server's environment to the agent: not in the task, so neither listed nor callable.
      await assert.rejects(
        client.callTool({ name: 'get-env', arguments: {} }),
        (e: { data?: { code?: string } }) => e.data?.code === 'ERR_ACTION_NOT_AUTHORIZED',
      );
      await client.close();
    });

    await t.test('server-filesystem over stdio: reads inside the granted directory only; roots never widen it', async () => {
      const granted = join(root, 'granted');
      const tk = await task('files', [
        { type: 'mcp', tools: ['read_text_file'], arguments: { path: { pathPrefix: granted } } },
        { type: 'mcp', tools: ['list_allowed_directories'] },
      ]);
      // The agent offers `/` as its root: server-filesystem would take it as its allowed directories.
      const client = await open('files', tk, ['file:///']);
      assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), ['list_allowed_directories', 'read_text_file']);
      const read = await client.callTool({ name: 'read_text_file', arguments: { path: join(granted, 'notes.txt') } });
      const plain = new Client({ name: 'direct', version: '1.0.0' });
      await plain.connect(new StdioClientTransport({ command: process.execPath, args: [FILESYSTEM, root], stderr: 'ignore' }));
      assert.deepEqual(read, await plain.callTool({ name: 'read_text_file', arguments: { path: join(granted, 'notes.txt') } }));
      await plain.close();
      for (const path of [
        join(root, 'other', 'secret.txt'),
        `${granted}/../other/secret.txt`,
        `${granted}2/x`,
        '/etc/passwd',
        'other/secret.txt',
      ]) {
        await assert.rejects(
          client.callTool({ name: 'read_text_file', arguments: { path } }),
          (e: { data?: { code?: string } }) => e.data?.code === 'ERR_ACTION_NOT_AUTHORIZED',
          path,
        );
      }
      // Directly, with roots ["file:///"], this answers "Allowed directories:\n/": the server took the client's roots.
      const dirs = (await client.callTool({ name: 'list_allowed_directories', arguments: {} })) as { content: { text: string }[] };
      const listed = (dirs.content[0]?.text ?? '').split('\n').slice(1);
      assert.deepEqual(listed, [realpathSync(root)], 'the configured directory is still the only allowed one');
      await client.close();
    });

    await t.test('a composite resource: both servers as one, tool names namespaced', async () => {
      const granted = join(root, 'granted');
      const tk = await task('combo', [
        { type: 'mcp', tools: ['everything.echo'] },
        { type: 'mcp', tools: ['files.read_text_file'], arguments: { path: { pathPrefix: granted } } },
      ]);
      const client = await open('combo', tk);
      assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), ['everything.echo', 'files.read_text_file']);
      assert.deepEqual(await client.callTool({ name: 'everything.echo', arguments: { message: 'c' } }), {
        content: [{ type: 'text', text: 'Echo: c' }],
      });
      const read = await client.callTool({ name: 'files.read_text_file', arguments: { path: join(granted, 'notes.txt') } });
      assert.match(JSON.stringify(read), /granted notes/);
      await assert.rejects(
        client.callTool({ name: 'echo', arguments: { message: 'x' } }),
        (e: { data?: { code?: string } }) => e.data?.code === 'ERR_MCP_TOOL_UNKNOWN',
      );
      await client.close();
    });

    await t.test('revoking the task cuts an open session to a real server', async () => {
      const tk = await task('everything', [{ type: 'mcp', tools: ['echo'] }]);
      const client = await open('everything', tk);
      await client.callTool({ name: 'echo', arguments: { message: 'before' } });
      await h.admin.post('/revocations', { target: { type: 'task', taskId: tk.id }, reason: 'stop' });
      await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'after' } }), /401|Unauthorized|invalid_token/i);
      await client.close().catch(() => undefined);
    });
  });
}
