/**
 * The MCP gateway end to end, on every store, with the stock MCP SDK client (Streamable HTTP, sessions) through Writ
 * to a real MCP SDK server: results are the upstream's own, `tools/list` shows only what the task may call, each
 * `tools/call` is decided on its own (tool, arguments, grants) and audited, the agent's token never reaches the
 * upstream, and revoking the task cuts the open session.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createClientAssertion, createMcpFetch, createDpopProof, type Task } from '@writ/agent';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, TOKEN_TYPE, type AuthorizationDetail } from '@writ/protocol';
import { postTokenRequest } from '../helpers/token-request.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';
import { postInitialize, postInSession } from '../helpers/mcp-raw.js';

const GRANT = `
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools")
when { context.user == Writ::User::"dev:alice" && (["echo", "add", "read_file", "slow_count", "wait", "reflect_headers"].contains(context.tool) || context.tool like "delete*") };
forbid (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools") when { context.tool == "delete_everything" };
permit (principal == Writ::Agent::"agent-a", action in [Writ::Action::"mcp_resource", Writ::Action::"mcp_prompt"], resource == Writ::Resource::"tools")
when { context.user == Writ::User::"dev:alice" };
`;

const DETAILS: AuthorizationDetail[] = [
  { type: 'mcp', tools: ['echo', 'slow_count'] },
  { type: 'mcp', tools: ['add'], arguments: { a: { range: { min: 0, max: 100 } } } },
  { type: 'mcp', tools: ['read_file'], arguments: { path: { pathPrefix: '/srv/data' } } },
];

interface AuditRow {
  id: string;
  type: string;
  decision: string;
  reason: string;
  action?: string;
  resource?: string;
  task_id?: string;
  trace_id?: string;
  user_id?: string;
  actor_chain?: string[];
  data: Record<string, unknown>;
}

describeEachStore('mcp gateway', (kind) => {
  const h = useHarness(kind, { config: { 'mcp.maxSessionsPerTask': 3 } });
  let agent: TestAgent;
  let upstream: McpTestUpstream;

  before(async () => {
    upstream = await startMcpTestUpstream();
    agent = await h.registerAgent('agent-a');
    await h.admin.put('/secrets/tools-key', { value: 'mcp-upstream-secret-0987654321', description: 'test' });
    await h.admin.post('/resources', {
      id: 'tools',
      kind: 'mcp',
      baseUrl: upstream.url,
      secretId: 'tools-key',
      inject: { mode: 'header', name: 'x-api-key' },
    });
    await h.admin.post('/grants', { id: 'tools', policy: GRANT });
    await h.admin.post('/resources', {
      id: 'tools-bearer',
      kind: 'mcp',
      mcp: { upstreams: [{ transport: 'http', url: upstream.url }], bearer: { allowed: true, maxLifetimeSeconds: 120 } },
    });
    await h.admin.post('/grants', {
      id: 'tools-bearer',
      policy: GRANT.replaceAll('Writ::Resource::"tools"', 'Writ::Resource::"tools-bearer"'),
    });
  });
  after(async () => {
    await upstream?.close();
  });

  async function connect(task: Task): Promise<Client> {
    const url = h.mcpUri('tools');
    const client = new Client({ name: 'test-agent', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    return client;
  }

  async function auditFor(taskId: string): Promise<AuditRow[]> {
    await h.writ.flushAudit();
    return h.admin.get<AuditRow[]>(`/audit?task=${taskId}&limit=500`);
  }

  function newTask(details: AuthorizationDetail[] = DETAILS): Promise<Task> {
    return h.startTask(agent, { resourceUri: h.mcpUri('tools'), details, purpose: 'mcp test' });
  }

  test("a permitted tool call returns exactly what the upstream returns; tools/list shows only the task's tools", async () => {
    const task = await newTask();
    const client = await connect(task);
    const listed = await client.listTools();
    assert.deepEqual(listed.tools.map((t) => t.name).sort(), ['add', 'echo', 'read_file', 'slow_count']);
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    assert.deepEqual(echo, { content: [{ type: 'text', text: 'echo: hello' }] });
    const add = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    assert.deepEqual(add, { content: [{ type: 'text', text: '42' }], structuredContent: { sum: 42 } });
    // Direct to the upstream, the same call gives the same result.
    const direct = new Client({ name: 'direct', version: '1.0.0' });
    await direct.connect(new StreamableHTTPClientTransport(new URL(upstream.url)));
    assert.deepEqual(await direct.callTool({ name: 'add', arguments: { a: 2, b: 40 } }), add);
    await direct.close();
    await client.close();
  });

  test('a credential the upstream reflects is scrubbed from the result before the agent sees it, and audited', async () => {
    const task = await newTask([{ type: 'mcp', tools: ['reflect_headers'] }]);
    const client = await connect(task);
    const result = await client.callTool({ name: 'reflect_headers', arguments: {} });
    const text = JSON.stringify(result);
    assert.ok(!text.includes('mcp-upstream-secret-0987654321'), text);
    const b64 = (result.content as { text: string }[])[1]?.text ?? '';
    assert.ok(!Buffer.from(b64, 'base64').toString('latin1').includes('secret-0987654321'), 'not even base64-encoded');
    assert.match(text, /\[writ:scrubbed\]/);
    assert.ok(
      upstream.calls.some((c) => c.tool === 'reflect_headers'),
      'the upstream did see it',
    );
    const rows = await auditFor(task.id);
    const scrubbed = rows.filter((r) => r.type === 'secret.scrubbed');
    assert.ok(scrubbed.length >= 1, 'a secret.scrubbed record');
    for (const r of scrubbed) {
      assert.equal(r.resource, 'tools');
      assert.deepEqual(r.data['secrets'], ['tools-key']);
      assert.equal(r.user_id, 'dev:alice');
      assert.ok(!JSON.stringify(r).includes('secret-0987654321'));
    }
    await client.close();
  });

  test("the upstream gets the injected credential and traceparent, never the agent's token, proof or roots", async () => {
    const task = await newTask();
    const before = upstream.requests.length;
    const client = await connect(task);
    await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    const seen = upstream.requests.slice(before);
    assert.ok(seen.length >= 2);
    for (const r of seen) {
      assert.equal(r.headers['x-api-key'], 'mcp-upstream-secret-0987654321');
      assert.equal(r.headers['authorization'], undefined);
      assert.equal(r.headers['dpop'], undefined);
      assert.ok(!JSON.stringify(r.headers).includes(task.token.slice(0, 40)));
    }
    const init = seen.find((r) => (r.body as { method?: string } | undefined)?.method === 'initialize');
    const caps = (init?.body as { params: { capabilities: Record<string, unknown> } }).params.capabilities;
    assert.equal(caps['roots'], undefined, "the agent's roots capability is not passed on");
    const call = seen.find((r) => (r.body as { method?: string } | undefined)?.method === 'tools/call');
    assert.match(String(call?.headers['traceparent']), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const rows = await auditFor(task.id);
    const allowed = rows.find((r) => r.type === 'call.allowed' && r.action === 'tools/call echo');
    assert.ok(allowed, 'the call is audited');
    assert.equal(allowed.trace_id, String(call?.headers['traceparent']).split('-')[1]);
    assert.equal(allowed.user_id, 'dev:alice');
    assert.deepEqual(allowed.actor_chain, ['dev:alice', 'agent-a']);
    assert.equal(allowed.data['tool'], 'echo');
    assert.match(String(allowed.data['arguments_digest']), /^[0-9a-f]{64}$/);
    await client.close();
  });

  test('each tools/call is decided on its own: tool, arguments and grants; denials are JSON-RPC errors, audited', async () => {
    // At issuance `delete*` is a pattern the grant permits; at call time the concrete tool is forbidden.
    const task = await newTask([...DETAILS, { type: 'mcp', tools: ['delete*'] }]);
    const client = await connect(task);
    const callsBefore = upstream.calls.length;
    const refusals: [string, Record<string, unknown>, string][] = [
      ['add', { a: 500, b: 1 }, 'ERR_ACTION_NOT_AUTHORIZED'],
      ['add', { b: 1 }, 'ERR_ACTION_NOT_AUTHORIZED'],
      ['read_file', { path: '/srv/data/../../etc/passwd' }, 'ERR_ACTION_NOT_AUTHORIZED'],
      ['read_file', { path: '/srv/database' }, 'ERR_ACTION_NOT_AUTHORIZED'],
      ['read_file', { path: '/etc/passwd' }, 'ERR_ACTION_NOT_AUTHORIZED'],
      ['delete_everything', {}, 'ERR_POLICY_DENIED'],
      ['Echo', { message: 'x' }, 'ERR_MCP_TOOL_UNKNOWN'],
      ['echo\u200b', { message: 'x' }, 'ERR_MCP_TOOL_UNKNOWN'],
      ['еcho', { message: 'x' }, 'ERR_MCP_TOOL_UNKNOWN'],
    ];
    for (const [name, args, code] of refusals) {
      await assert.rejects(
        client.callTool({ name, arguments: args }),
        (err: { code?: number; data?: { code?: string } }) => err.data?.code === code,
        `${name} ${JSON.stringify(args)} → ${code}`,
      );
    }
    assert.equal(upstream.calls.length, callsBefore, 'no refused call reached the upstream');
    const ok = await client.callTool({ name: 'read_file', arguments: { path: '/srv/data/report.txt' } });
    assert.deepEqual(ok, { content: [{ type: 'text', text: 'contents of /srv/data/report.txt' }] });
    const rows = await auditFor(task.id);
    const denied = rows.filter((r) => r.type === 'call.denied');
    assert.equal(denied.length, refusals.length);
    assert.ok(denied.every((r) => typeof r.data['arguments_digest'] === 'string' || r.reason === 'ERR_MCP_TOOL_UNKNOWN'));
    assert.deepEqual(new Set(denied.map((r) => r.reason)), new Set(refusals.map((r) => r[2])));
    await client.close();
  });

  test('resources and prompts follow the same rule: lists filtered, each read and get decided on its own', async () => {
    const none = await newTask();
    const c1 = await connect(none);
    assert.deepEqual((await c1.listResources()).resources, [], "the task names no resource: the upstream's are hidden");
    assert.deepEqual((await c1.listPrompts()).prompts, []);
    await assert.rejects(
      c1.readResource({ uri: 'notes://secret' }),
      (e: { data?: { code?: string } }) => e.data?.code === 'ERR_ACTION_NOT_AUTHORIZED',
    );
    await assert.rejects(
      c1.getPrompt({ name: 'greet' }),
      (e: { data?: { code?: string } }) => e.data?.code === 'ERR_ACTION_NOT_AUTHORIZED',
    );
    await assert.rejects(
      c1.complete({ ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'x', value: 'y' } }),
      (e: { data?: { code?: string } }) => e.data?.code === 'ERR_MCP_METHOD_NOT_ALLOWED',
    );
    await c1.close();

    const some = await newTask([...DETAILS, { type: 'mcp', resources: ['notes://secret'], prompts: ['greet'] }]);
    const c2 = await connect(some);
    assert.deepEqual(
      (await c2.listResources()).resources.map((r) => r.uri),
      ['notes://secret'],
    );
    assert.deepEqual(
      (await c2.listPrompts()).prompts.map((p) => p.name),
      ['greet'],
    );
    assert.deepEqual(await c2.readResource({ uri: 'notes://secret' }), { contents: [{ uri: 'notes://secret', text: 'the secret notes' }] });
    assert.deepEqual((await c2.getPrompt({ name: 'greet' })).messages, [{ role: 'user', content: { type: 'text', text: 'hi' } }]);
    await c2.close();

    const prefix = await newTask([...DETAILS, { type: 'mcp', resources: ['notes://public/*'] }]);
    const c3 = await connect(prefix);
    for (const uri of ['notes://secret', 'notes://public/../secret', 'notes://public/%2e%2e/secret', 'notes://public/..%2fsecret']) {
      await assert.rejects(
        c3.readResource({ uri }),
        (e: { data?: { code?: string } }) => e.data?.code === 'ERR_ACTION_NOT_AUTHORIZED',
        uri,
      );
    }
    await c3.close();
  });

  test("cancellation: the agent's notifications/cancelled reaches the upstream for the request it names", async () => {
    const task = await newTask([...DETAILS, { type: 'mcp', tools: ['wait'] }]);
    const client = await connect(task);
    const abort = new AbortController();
    const pending = client.callTool({ name: 'wait', arguments: {} }, undefined, { signal: abort.signal });
    // Cancel once the upstream is running the tool (the SDK then sends notifications/cancelled).
    await upstream.waitForCall((c) => c.tool === 'wait');
    abort.abort('test');
    await assert.rejects(pending);
    await upstream.waitForCall((c) => c.tool === 'wait' && (c.args as { cancelled?: boolean }).cancelled === true);
    await client.close();
  });

  test('progress notifications of a tools/call reach the agent', async () => {
    const task = await newTask();
    const client = await connect(task);
    const progress: number[] = [];
    const r = await client.callTool({ name: 'slow_count', arguments: { n: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    assert.deepEqual(r, { content: [{ type: 'text', text: 'counted 3' }] });
    assert.deepEqual(progress, [1, 2, 3]);
    await client.close();
  });

  test('an answer that is all there is goes as one JSON body; one with progress before it as an event stream', async () => {
    const url = h.mcpUri('tools');
    const task = await newTask();
    const init = await postInitialize(task, url);
    const sid = init.headers.get('mcp-session-id') as string;
    await init.text();
    const call = (id: number, params: Record<string, unknown>): Promise<Response> =>
      postInSession(task, url, sid, { id, method: 'tools/call', params });
    const plain = await call(2, { name: 'echo', arguments: { message: 'one body' } });
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(plain.headers.get('content-length') !== null);
    assert.deepEqual(await plain.json(), { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'echo: one body' }] } });

    const counted = await call(3, { name: 'slow_count', arguments: { n: 2 }, _meta: { progressToken: 'p' } });
    assert.equal(counted.headers.get('content-type'), 'text/event-stream');
    const events = (await counted.text())
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice('data: '.length)) as { method?: string; id?: number });
    assert.deepEqual(
      events.map((e) => e.method ?? `answer ${e.id}`),
      ['notifications/progress', 'notifications/progress', 'answer 3'],
    );
  });

  test('a second GET stream on one session is refused with 409 before any header is sent; the first stays open', async () => {
    const url = h.mcpUri('tools');
    const task = await newTask();
    const init = await postInitialize(task, url);
    const sid = init.headers.get('mcp-session-id') as string;
    await init.text();
    const stream = { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    const first = await task.fetch(url, { headers: stream });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'text/event-stream');
    const second = await task.fetch(url, { headers: stream });
    assert.equal(second.status, 409);
    assert.equal(((await second.json()) as { code: string }).code, 'ERR_MCP_STREAM_CONFLICT');
    // The first stream is still the session's: a tool call's notifications could still reach it.
    const reader = (first.body as ReadableStream<Uint8Array>).getReader();
    await h.admin.post('/revocations', { target: { type: 'task', taskId: task.id }, reason: 'end of test' });
    for (;;) if ((await reader.read()).done) break;
    const rows = await auditFor(task.id);
    assert.ok(rows.some((r) => r.reason === 'ERR_MCP_STREAM_CONFLICT' && r.type === 'call.denied'));
  });

  test('revoking the task cuts the open session: the next request is refused with 401', async () => {
    const task = await newTask();
    const client = await connect(task);
    await client.callTool({ name: 'echo', arguments: { message: 'before' } });
    await h.admin.post('/revocations', { target: { type: 'task', taskId: task.id }, reason: 'test kill switch' });
    await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'after' } }), /401|Unauthorized|invalid_token/i);
    await h.writ.flushAudit();
    const denied = await h.admin.get<AuditRow[]>('/audit?type=call.denied&limit=1000');
    assert.ok(denied.some((r) => r.reason === 'ERR_REVOKED_TASK' && r.resource === 'tools'));
    await client.close().catch(() => undefined);
  });

  test('raw protocol attacks: batches, sessions of another task, a token for another resource, no token', async () => {
    const url = h.mcpUri('tools');
    const task = await newTask();
    const post = async (t: Task, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
      t.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(body),
      });
    const init = await post(task, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    assert.equal(init.status, 200);
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid !== null && sid.length >= 32);
    await init.text();
    const inSession = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };

    const batch = await post(task, [{ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'delete_everything' } }], inSession);
    assert.equal(batch.status, 400);
    assert.equal(((await batch.json()) as { error: { code: number } }).error.code, -32600);

    const unknown = await post(task, { jsonrpc: '2.0', id: 3, method: 'Tools/Call', params: { name: 'echo' } }, inSession);
    assert.equal(((await unknown.json()) as { error: { code: number } }).error.code, -32601);

    const other = await newTask();
    const stolenSession = await post(other, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, inSession);
    assert.equal(stolenSession.status, 404, 'a session belongs to the task that opened it');
    await stolenSession.text();

    const badVersion = await post(
      task,
      { jsonrpc: '2.0', id: 5, method: 'tools/list' },
      { ...inSession, 'mcp-protocol-version': '1999-01-01' },
    );
    assert.equal(badVersion.status, 400);
    await badVersion.text();

    const httpTask = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }] });
    const wrongAudience = await post(httpTask, { jsonrpc: '2.0', id: 6, method: 'tools/list' }, inSession);
    assert.equal(wrongAudience.status, 401);
    assert.equal(((await wrongAudience.json()) as { code: string }).code, 'ERR_TOKEN_AUDIENCE');

    const none = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(none.status, 401);
    const challenge = none.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^DPoP /);
    assert.ok(challenge.includes(`resource_metadata="${h.writ.publicUrl}/.well-known/oauth-protected-resource/mcp/tools"`));
    await none.text();
    const prm = (await (await fetch(`${h.writ.publicUrl}/.well-known/oauth-protected-resource/mcp/tools`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(prm['resource'], url);
    assert.deepEqual(prm['authorization_servers'], [h.writ.publicUrl]);

    const foreignOrigin = await post(
      task,
      { jsonrpc: '2.0', id: 7, method: 'tools/list' },
      { ...inSession, origin: 'http://evil.example' },
    );
    assert.equal(foreignOrigin.status, 403);
    await foreignOrigin.text();

    // A proof for another URL does not open the MCP endpoint.
    const proof = await createDpopProof(agent.dpopKey, { htm: 'POST', htu: `${h.writ.publicUrl}/mcp/other`, accessToken: task.token });
    const wrongHtu = await fetch(url, {
      method: 'POST',
      headers: { authorization: `DPoP ${task.token}`, dpop: proof, 'content-type': 'application/json', ...inSession },
      body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/list' }),
    });
    assert.equal(wrongHtu.status, 401);
    await wrongHtu.text();
  });

  test('bearer task tokens: only at a resource that allows them, short-lived, each call marked in the audit', async () => {
    const bearerToken = async (resource: string): Promise<{ status: number; body: Record<string, unknown> }> =>
      postTokenRequest(
        `${h.writ.publicUrl}/oauth2/token`,
        {
          client_id: agent.id,
          client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
          client_assertion: await createClientAssertion({
            clientId: agent.id,
            audience: `${h.writ.publicUrl}/oauth2/token`,
            key: agent.clientKey,
            kid: String(agent.publicJwk.kid),
          }),
          subject_token: await h.userToken('alice'),
          subject_token_type: TOKEN_TYPE.idToken,
          resource,
          authorization_details: JSON.stringify([{ type: 'mcp', tools: ['echo'] }]),
        },
        null,
      );
    const refused = await bearerToken(h.mcpUri('tools'));
    assert.equal(refused.status, 400, 'no proof, no token, where bearer is not allowed');
    assert.equal(refused.body['error'], 'invalid_dpop_proof');
    const issued = await bearerToken(h.mcpUri('tools-bearer'));
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(issued.body['token_type'], 'Bearer');
    assert.ok(Number(issued.body['expires_in']) <= 120);
    const token = String(issued.body['access_token']);
    const url = h.mcpUri('tools-bearer');
    // The stock SDK client as an MCP host without DPoP uses it: Authorization: Bearer on every request.
    const client = new Client({ name: 'host', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
    assert.deepEqual(
      (await client.listTools()).tools.map((t) => t.name),
      ['echo'],
    );
    assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'b' } }), {
      content: [{ type: 'text', text: 'echo: b' }],
    });
    await client.close();
    const rows = await auditFor(String(issued.body['task_id']));
    // The records that carry a decision (an outcome points to its write-ahead record, which carries the mark).
    const calls = rows.filter((r) => r.type === 'call.allowed' || r.type === 'call.denied');
    assert.ok(calls.length >= 2);
    assert.ok(
      calls.every((r) => r.data['bearer'] === true),
      'every bearer call is marked',
    );
    // The same bearer token is refused at a resource that does not allow bearer tokens, and at the HTTP gateway.
    const elsewhere = await fetch(h.mcpUri('tools'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(elsewhere.status, 401);
    assert.equal(((await elsewhere.json()) as { code: string }).code, 'ERR_AUTH_SCHEME');
    const prm = (await (await fetch(`${h.writ.publicUrl}/.well-known/oauth-protected-resource/mcp/tools-bearer`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(prm['dpop_bound_access_tokens_required'], false);
  });

  test('MCP 2026-07-28, sessionless: headers must match the body, server/discover, filtered lists, no session ids', async () => {
    const url = h.mcpUri('tools');
    const task = await newTask();
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'modern', version: '1' },
    };
    const send = async (
      body: Record<string, unknown>,
      headers: Record<string, string>,
    ): Promise<{ status: number; json: Record<string, unknown>; sid: string | null }> => {
      const res = await task.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2026-07-28', ...headers },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown>, sid: res.headers.get('mcp-session-id') };
    };
    const rpc = (id: number, method: string, params: Record<string, unknown> = {}): Record<string, unknown> => ({
      jsonrpc: '2.0',
      id,
      method,
      params: { ...params, _meta: meta },
    });
    const discover = await send(rpc(1, 'server/discover'), { 'mcp-method': 'server/discover' });
    assert.equal(discover.status, 200, JSON.stringify(discover.json));
    const d = discover.json['result'] as Record<string, unknown>;
    assert.ok((d['supportedVersions'] as string[]).includes('2026-07-28'));
    assert.ok((d['capabilities'] as Record<string, unknown>)['tools'] !== undefined);
    assert.equal(discover.sid, null, 'no session id is ever minted');

    const list = await send(rpc(2, 'tools/list'), { 'mcp-method': 'tools/list' });
    const listed = list.json['result'] as { tools: { name: string }[]; cacheScope: string; resultType: string };
    assert.deepEqual(listed.tools.map((x) => x.name).sort(), ['add', 'echo', 'read_file', 'slow_count']);
    assert.equal(listed.cacheScope, 'private', 'a list filtered for one task is never public');
    assert.equal(listed.resultType, 'complete');

    const call = await send(rpc(3, 'tools/call', { name: 'echo', arguments: { message: 'modern' } }), {
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    });
    assert.deepEqual((call.json['result'] as { content: unknown }).content, [{ type: 'text', text: 'echo: modern' }]);
    const encoded = await send(rpc(4, 'tools/call', { name: 'echo', arguments: { message: 'b64' } }), {
      'mcp-method': 'tools/call',
      'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=`,
    });
    assert.equal(encoded.status, 200, 'a base64-encoded Mcp-Name is decoded');

    const callsBefore = upstream.calls.length;
    const mismatches: [string, Record<string, unknown>, Record<string, string>][] = [
      [
        'Mcp-Name names another tool',
        rpc(5, 'tools/call', { name: 'delete_everything', arguments: {} }),
        { 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      ],
      [
        'Mcp-Method names another method',
        rpc(6, 'tools/call', { name: 'echo', arguments: { message: 'x' } }),
        { 'mcp-method': 'tools/list' },
      ],
      ['Mcp-Method missing', rpc(7, 'tools/call', { name: 'echo', arguments: { message: 'x' } }), { 'mcp-name': 'echo' }],
      ['Mcp-Name missing', rpc(8, 'tools/call', { name: 'echo', arguments: { message: 'x' } }), { 'mcp-method': 'tools/call' }],
      [
        'Mcp-Name in another case',
        rpc(9, 'tools/call', { name: 'echo', arguments: { message: 'x' } }),
        { 'mcp-method': 'tools/call', 'mcp-name': 'ECHO' },
      ],
      ['_meta version missing', { jsonrpc: '2.0', id: 10, method: 'tools/list', params: {} }, { 'mcp-method': 'tools/list' }],
    ];
    for (const [name, body, headers] of mismatches) {
      const r = await send(body, headers);
      assert.equal(r.status, 400, name);
      assert.equal((r.json['error'] as { code: number }).code, -32020, name);
    }
    assert.equal(upstream.calls.length, callsBefore, 'no mismatched request reached the upstream');

    const unknown = await send(rpc(11, 'tools/frobnicate'), { 'mcp-method': 'tools/frobnicate' });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.json['error'] as { code: number }).code, -32601);
    const unsupported = await send(rpc(12, 'tools/list'), { 'mcp-method': 'tools/list', 'mcp-protocol-version': '2099-01-01' });
    assert.equal(unsupported.status, 400);
    assert.equal((unsupported.json['error'] as { code: number }).code, -32022);
    const get = await task.fetch(url, { headers: { accept: 'text/event-stream', 'mcp-protocol-version': '2026-07-28' } });
    assert.equal(get.status, 405);
    await get.text();
    const rows = await auditFor(task.id);
    assert.equal(rows.filter((r) => r.reason === 'ERR_MCP_HEADER_MISMATCH').length, mismatches.length, 'every mismatch is audited');
  });

  test('an upstream that cannot be started: 502 ERR_UPSTREAM_UNAVAILABLE, audited, nothing left behind', async () => {
    await h.admin.post('/resources', {
      id: 'broken',
      kind: 'mcp',
      mcp: { upstreams: [{ transport: 'stdio', command: '/nonexistent/mcp-server' }] },
    });
    const task = await h
      .startTask(agent, { resourceUri: h.mcpUri('broken'), details: [{ type: 'mcp', tools: ['*'] }] })
      .catch(() => undefined);
    // No grant names "broken": the task itself is refused at issuance. Open one with a grant to reach the gateway.
    assert.equal(task, undefined);
    await h.admin.post('/grants', {
      id: 'broken',
      policy: 'permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"broken");',
    });
    const ok = await h.startTask(agent, { resourceUri: h.mcpUri('broken'), details: [{ type: 'mcp', tools: ['*'] }] });
    const url = h.mcpUri('broken');
    await assert.rejects(
      new Client({ name: 'x', version: '1' }).connect(
        new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task: ok, url }) }),
      ),
      (e: { code?: number }) => e.code === 502,
    );
    const rows = await auditFor(ok.id);
    // Allowed and written ahead, then the outcome: the upstream could not be reached.
    const outcome = rows.find((r) => r.type === 'call.outcome' && r.reason === 'ERR_UPSTREAM_UNAVAILABLE');
    assert.ok(outcome !== undefined);
    assert.ok(rows.some((r) => r.type === 'call.allowed' && r.id === outcome.data['of'] && r.action === 'initialize'));
  });

  test('one task cannot open sessions without bound (each may hold an upstream process)', async () => {
    const task = await newTask();
    const clients = [await connect(task), await connect(task), await connect(task)];
    await assert.rejects(connect(task), (e: { code?: number }) => e.code === 429);
    // DELETE ends a session (the SDK's terminateSession), and makes room for another.
    await (clients[0]?.transport as StreamableHTTPClientTransport).terminateSession();
    await clients[0]?.close();
    const again = await connect(task);
    await Promise.all([again, ...clients.slice(1)].map((c) => c.close()));
  });
});
