/**
 * No agent can deny service to others through an upstream. The attack that starved every agent before (sessions that
 * each held a stream to the upstream, sessionless calls that each held a connection, all from one shared pool) is
 * run against the default limits; the attackers get immediate 429s with a stable code and `Retry-After` once their
 * share is held, and a fresh task of another agent is still answered at once. A second suite fills an upstream's
 * total: 503 `ERR_UPSTREAM_SATURATED` at once, shown by /readyz and the metrics, and gone when a holder lets go.
 * A third shows idle sessions closed, their streams with them; a fourth, the HTTP gateway held to the same shares.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch, type Task } from '@writ/agent';
import { describeEachStore } from '../helpers/stores.js';
import { eventually } from '../helpers/eventually.js';
import { useHarness, type Harness, type TestAgent } from '../helpers/writ-harness.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';
import { postInitialize, postInSession } from '../helpers/mcp-raw.js';

const GRANT = `permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools")
when { ["echo", "wait"].contains(context.tool) };`;
const DETAILS = [{ type: 'mcp' as const, tools: ['echo', 'wait'] }];
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'attacker', version: '1' },
};

interface Refusal {
  status: number;
  code: string;
  retryAfter: string | null;
}

async function refusalOf(res: Response): Promise<Refusal> {
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: String(body.code), retryAfter: res.headers.get('retry-after') };
}

/** A raw session: initialize, initialized; the session id. */
async function openSession(task: Task, url: string): Promise<string> {
  const init = await postInitialize(task, url, 'attacker');
  assert.equal(init.status, 200, await init.clone().text());
  await init.text();
  const sid = init.headers.get('mcp-session-id') as string;
  const done = await postInSession(task, url, sid, { method: 'notifications/initialized' });
  assert.equal(done.status, 202);
  return sid;
}

function getStream(task: Task, url: string, sid: string): Promise<Response> {
  return task.fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' } });
}

/** A `wait` call (answered only when cancelled) in a session: the response arrives only if it is refused. */
function waitInSession(task: Task, url: string, sid: string): Promise<Response> {
  return postInSession(task, url, sid, { id: 7, method: 'tools/call', params: { name: 'wait', arguments: {} } });
}

/** A sessionless (2026-07-28) `tools/call`; `wait` is answered only when cancelled. */
function callSessionless(task: Task, url: string, tool = 'wait', args: Record<string, unknown> = {}): Promise<Response> {
  return task.fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': tool,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args, _meta: MODERN_META } }),
  });
}

/** Resolves once `n` of `pending` have settled, with those answers; the rest stay pending. */
function firstSettled(pending: Promise<Response>[], n: number): Promise<Response[]> {
  return new Promise((resolve, reject) => {
    const got: Response[] = [];
    for (const p of pending)
      p.then((r) => {
        got.push(r);
        if (got.length === n) resolve(got);
      }, reject);
  });
}

async function readyz(h: Harness): Promise<{ status: number; checks: Record<string, unknown> }> {
  const res = await fetch(`${h.writ.url}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, unknown> }).checks };
}

async function metric(h: Harness, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${h.writ.url}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

/** The suite's MCP test upstream, registered as resource "tools" under GRANT once the harness runs; closed after. */
function useToolsUpstream(h: Harness): () => McpTestUpstream {
  let upstream: McpTestUpstream | undefined;
  before(async () => {
    upstream = await startMcpTestUpstream();
    await h.admin.post('/resources', { id: 'tools', kind: 'mcp', baseUrl: upstream.url });
    await h.admin.post('/grants', { id: 'tools', policy: GRANT });
  });
  after(async () => {
    await upstream?.close();
  });
  return () => {
    if (upstream === undefined) throw new Error('the upstream is not started');
    return upstream;
  };
}

describeEachStore('one agent cannot starve the others through an upstream', (kind) => {
  // The defaults: 128 exchanges per upstream, 32 per agent, 16 per task; 16 sessions per task, 64 per agent.
  const h = useHarness(kind);
  const tools = useToolsUpstream(h);
  let mallory: TestAgent;
  let oscar: TestAgent;
  let alice: TestAgent;

  before(async () => {
    [mallory, oscar, alice] = [await h.registerAgent('mallory'), await h.registerAgent('oscar'), await h.registerAgent('agent-a')];
  });

  test('4 tasks × 16 streaming sessions and 63 sessionless calls held open; a fresh task of another agent is answered at once', async () => {
    const url = h.mcpUri('tools');
    const start = (a: TestAgent): Promise<Task> => h.startTask(a, { resourceUri: url, details: DETAILS });
    const held: Response[] = [];

    // Mallory: four tasks, sixteen sessions each, each session listening on its GET stream.
    const refusals: Refusal[] = [];
    const malloryTasks = [await start(mallory), await start(mallory), await start(mallory), await start(mallory)];
    const sessions: [Task, string][] = [];
    for (const task of malloryTasks) for (let i = 0; i < 16; i++) sessions.push([task, await openSession(task, url)]);
    for (const [task, sid] of sessions) {
      const res = await getStream(task, url, sid);
      if (res.status === 200) held.push(res);
      else refusals.push(await refusalOf(res));
    }
    assert.equal(held.length, 32, "streams up to the agent's share");
    assert.equal(refusals.length, 32);
    for (const r of refusals) assert.deepEqual(r, { status: 429, code: 'ERR_UPSTREAM_SHARE_EXCEEDED', retryAfter: '1' });
    // Sessions themselves are bounded per agent too (64 here), sessionless ones counted.
    const extra = await start(mallory);
    const refusedSession = await postInitialize(extra, url, 'attacker');
    assert.deepEqual(await refusalOf(refusedSession), { status: 429, code: 'ERR_MCP_SESSION_LIMIT', retryAfter: '1' });
    const refusedSessionless = await callSessionless(extra, url);
    assert.deepEqual(await refusalOf(refusedSessionless), { status: 429, code: 'ERR_UPSTREAM_SHARE_EXCEEDED', retryAfter: '1' });
    // A call in one of mallory's sessions is refused at once too: that task holds its own share in streams.
    const [firstTask, firstSid] = sessions[0] as [Task, string];
    assert.deepEqual(await refusalOf(await waitInSession(firstTask, url, firstSid)), {
      status: 429,
      code: 'ERR_UPSTREAM_SHARE_EXCEEDED',
      retryAfter: '1',
    });

    // Oscar: 63 tasks, one sessionless call each that the upstream never answers.
    const oscarTasks: Task[] = [];
    for (let i = 0; i < 63; i++) oscarTasks.push(await start(oscar));
    const calls = oscarTasks.map((t) => callSessionless(t, url));
    const refusedCalls = await firstSettled(calls, 31);
    for (const r of refusedCalls)
      assert.deepEqual(await refusalOf(r), { status: 429, code: 'ERR_UPSTREAM_SHARE_EXCEEDED', retryAfter: '1' });
    await eventually(async () => tools().calls.filter((c) => c.tool === 'wait').length === 32, '32 held calls at the upstream');

    // What the operator sees: 64 exchanges held of 128; 64 refused by the agents' shares, one by a task's.
    const r = await readyz(h);
    assert.equal(r.status, 200, 'one busy upstream does not take the node out of service');
    const ups = r.checks['upstreams'] as {
      state: string;
      resources: Record<string, { in_use: number; limit: number; refused: Record<string, number> }>;
    };
    assert.equal(ups.state, 'ok');
    assert.deepEqual(ups.resources['tools'], { in_use: 64, limit: 128, refused: { task: 1, agent: 64, resource: 0 } });
    assert.equal(await metric(h, 'writ_upstream_in_use{resource="tools"}'), 64);
    assert.equal(await metric(h, 'writ_upstream_refused_total{resource="tools",scope="agent"}'), 64);

    // Alice's agent, a fresh task: initialize and tools/call answered within a second, as if nothing were going on.
    const began = performance.now();
    const task = await start(alice);
    const client = new Client({ name: 'victim', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    const answer = await client.callTool({ name: 'echo', arguments: { message: 'still served' } });
    const elapsed = performance.now() - began;
    assert.deepEqual(answer.content, [{ type: 'text', text: 'echo: still served' }]);
    assert.ok(elapsed < 1000, `answered in ${elapsed.toFixed(0)} ms`);
    const modern = await callSessionless(task, url, 'echo', { message: 'sessionless too' });
    assert.equal(modern.status, 200);
    await client.close();

    // The kill switch releases what the attackers held, at once.
    await h.admin.post('/revocations', { target: { type: 'agent', agentId: 'mallory' }, reason: 'starvation attempt' });
    await h.admin.post('/revocations', { target: { type: 'agent', agentId: 'oscar' }, reason: 'starvation attempt' });
    await Promise.all(calls.map((c) => c.then((res) => res.text()).catch(() => undefined)));
    for (const res of held) await res.body?.cancel();
    await eventually(
      async () => ((await readyz(h)).checks['upstreams'] as typeof ups).resources['tools']?.in_use === 0,
      'every lease back',
    );
  });
});

describeEachStore('an upstream at capacity', (kind) => {
  const h = useHarness(kind, {
    config: {
      'limits.upstreamConnections': 4,
      'limits.upstreamConnectionsPerAgent': 2,
      'limits.upstreamConnectionsPerTask': 1,
    },
  });
  const tools = useToolsUpstream(h);

  test('503 ERR_UPSTREAM_SATURATED at once with Retry-After; /readyz and the metrics say so; a holder letting go makes room', async () => {
    const url = h.mcpUri('tools');
    const [x, y, z] = [await h.registerAgent('x'), await h.registerAgent('y'), await h.registerAgent('z')];
    const tasks = [x, x, y, y].map((a) => h.startTask(a, { resourceUri: url, details: DETAILS }));
    const holders = await Promise.all(tasks);
    const calls = holders.map((t) => callSessionless(t, url));
    await eventually(async () => tools().calls.filter((c) => c.tool === 'wait').length === 4, 'four held calls');
    const late = await h.startTask(z, { resourceUri: url, details: DETAILS });
    assert.deepEqual(await refusalOf(await callSessionless(late, url)), { status: 503, code: 'ERR_UPSTREAM_SATURATED', retryAfter: '1' });
    const r = await readyz(h);
    assert.equal(r.status, 200);
    assert.deepEqual(r.checks['upstreams'], {
      state: 'saturated',
      saturated: ['tools'],
      resources: { tools: { in_use: 4, limit: 4, refused: { task: 0, agent: 0, resource: 1 } } },
    });
    assert.equal(await metric(h, 'writ_upstream_saturation{resource="tools"}'), 1);
    await h.writ.flushAudit();
    const denied = await h.admin.get<{ reason: string }[]>(`/audit?task=${late.id}&limit=10`);
    assert.ok(
      denied.some((row) => row.reason === 'ERR_UPSTREAM_SATURATED'),
      'the refusal is audited',
    );

    // One holder's task is revoked: its session is cut, its lease comes back, and z gets in.
    await h.admin.post('/revocations', { target: { type: 'task', taskId: (holders[0] as Task).id }, reason: 'make room' });
    await (calls[0] as Promise<Response>).then((res) => res.text());
    await eventually(async () => ((await readyz(h)).checks['upstreams'] as { state: string }).state === 'ok', 'room again');
    const call = callSessionless(late, url);
    await eventually(async () => tools().calls.filter((c) => c.tool === 'wait').length === 5, "z's call reached the upstream");
    for (const t of [...holders.slice(1), late])
      await h.admin.post('/revocations', { target: { type: 'task', taskId: t.id }, reason: 'end of test' });
    await Promise.all([...calls.slice(1), call].map((c) => c.then((res) => res.text())));
  });
});

describeEachStore('idle MCP sessions', (kind) => {
  const h = useHarness(kind, { config: { 'mcp.sessionIdleSeconds': 2 } });
  const tools = useToolsUpstream(h);

  test('concurrent first sessionless calls of one task share one upstream session (a second would be held by nobody)', async () => {
    const url = h.mcpUri('tools');
    const agent = await h.registerAgent('twins');
    const task = await h.startTask(agent, { resourceUri: url, details: DETAILS });
    const initializes = (): number =>
      tools().requests.filter((r) => (r.body as { method?: string } | undefined)?.method === 'initialize').length;
    const before = initializes();
    const answers = await Promise.all([1, 2, 3].map((n) => callSessionless(task, url, 'echo', { message: `twin ${n}` })));
    for (const a of answers) assert.equal(a.status, 200, await a.clone().text());
    assert.equal(initializes() - before, 1, 'one upstream initialize for the three calls');
    await h.admin.post('/revocations', { target: { type: 'task', taskId: task.id }, reason: 'end of test' });
  });

  test('a session no agent request touched for sessionIdleSeconds is closed, its streams with it; a waiting call keeps it', async () => {
    const url = h.mcpUri('tools');
    const agent = await h.registerAgent('idler');
    const task = await h.startTask(agent, { resourceUri: url, details: DETAILS });
    const idle = await openSession(task, url);
    const busy = await openSession(task, url);
    const stream = await getStream(task, url, idle);
    assert.equal(stream.status, 200);
    const waiting = waitInSession(task, url, busy);
    await eventually(async () => tools().calls.some((c) => c.tool === 'wait'), 'the waiting call reached the upstream');
    h.clock.advance(3);
    // The idle session's stream ends (the sweep runs on real time, a quarter of the idle time apart).
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    for (;;) if ((await reader.read()).done) break;
    const gone = await task.fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'mcp-session-id': idle,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }),
    });
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: string }).code, 'ERR_MCP_SESSION_UNKNOWN');
    const ping = await task.fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'mcp-session-id': busy,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }),
    });
    assert.equal(ping.status, 200, 'the session with a call in flight was kept');
    await h.admin.post('/revocations', { target: { type: 'task', taskId: task.id }, reason: 'end of test' });
    await (await waiting).text();
  });
});

describeEachStore('the HTTP gateway shares an upstream the same way', (kind) => {
  const h = useHarness(kind, {
    config: {
      'limits.upstreamConnections': 4,
      'limits.upstreamConnectionsPerAgent': 3,
      'limits.upstreamConnectionsPerTask': 2,
    },
  });
  /** An upstream that holds every request until released. */
  const waiting: ServerResponse[] = [];
  let server: Server;

  before(async () => {
    server = createServer((_req, res) => waiting.push(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await h.admin.post('/resources', { id: 'slow', kind: 'http', baseUrl: `http://127.0.0.1:${port}` });
    await h.admin.post('/grants', {
      id: 'slow',
      policy: 'permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"slow");',
    });
  });
  after(async () => {
    for (const res of waiting) res.end();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('calls in flight count against the task, the agent and the upstream; over a bound is refused at once', async () => {
    const [x, y] = [await h.registerAgent('x'), await h.registerAgent('y')];
    const start = (a: TestAgent): Promise<Task> =>
      h.startTask(a, { resource: 'slow', details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] });
    const call = (t: Task): Promise<Response> => t.fetch(`${h.resourceUri('slow')}/v1/hold`);
    const [x1, x2, y1] = [await start(x), await start(x), await start(y)];
    const held = [call(x1), call(x1)];
    await eventually(async () => waiting.length === 2, 'two held calls');
    assert.deepEqual(await refusalOf(await call(x1)), { status: 429, code: 'ERR_UPSTREAM_SHARE_EXCEEDED', retryAfter: '1' });
    held.push(call(x2));
    await eventually(async () => waiting.length === 3, 'three held calls');
    assert.deepEqual(await refusalOf(await call(x2)), { status: 429, code: 'ERR_UPSTREAM_SHARE_EXCEEDED', retryAfter: '1' });
    held.push(call(y1));
    await eventually(async () => waiting.length === 4, 'four held calls');
    assert.deepEqual(await refusalOf(await call(y1)), { status: 503, code: 'ERR_UPSTREAM_SATURATED', retryAfter: '1' });
    // The upstream answers: every lease comes back, and the next call goes through.
    for (const res of waiting.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    for (const r of await Promise.all(held)) assert.equal(r.status, 200);
    const next = call(y1);
    await eventually(async () => waiting.length === 1, 'the next call reached the upstream');
    (waiting.shift() as ServerResponse).writeHead(200, { 'content-type': 'application/json' }).end('{}');
    assert.equal((await next).status, 200);
  });
});
