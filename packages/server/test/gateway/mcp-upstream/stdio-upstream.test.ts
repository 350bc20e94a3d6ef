/**
 * StdioUpstream against the real `@modelcontextprotocol/server-filesystem`, and against a fixture server whose
 * answers the test controls: the session survives a SIGKILL of its process (initialize replayed, its response
 * swallowed, the relay never re-initializes), a request in flight at the crash is answered with -32603, sends while
 * the process is down are refused, framing rejects what is not one JSON-RPC object per line, and close() leaves no
 * process behind.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  StdioUpstream,
  UpstreamError,
  UPSTREAM_RESTARTED_CODE,
  type JsonRpcMessage,
  type StdioUpstreamOptions,
  type SupervisedStart,
} from '../../../src/gateway/mcp/upstream/index.js';
import { FILESYSTEM_SERVER, isAlive, manualClock, memoryLog, nextEvent, rpcPeer } from './upstream-test-kit.js';

const FIXTURE_SERVER = fileURLToPath(new URL('./fixtures/stdio-fixture-server.js', import.meta.url));
const INITIALIZE = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'writ-test', version: '0.0.0' } };

interface ToolResult {
  content?: { type: string; text?: string }[];
  isError?: boolean;
  tools?: { name: string }[];
}
/** The fixture server as a session's upstream; the options a test cares about on top. */
function fixtureUpstream(overrides: Partial<StdioUpstreamOptions> = {}): StdioUpstream {
  return new StdioUpstream({
    resourceId: 'fixture',
    command: process.execPath,
    args: [FIXTURE_SERVER],
    logger: memoryLog().logger,
    ...overrides,
  });
}

const resultOf = (m: JsonRpcMessage): ToolResult => {
  assert.ok('result' in m, `expected a result, got ${JSON.stringify(m)}`);
  return m.result as ToolResult;
};

test(
  'server-filesystem over stdio: tools, a read, a refused read, survives SIGKILL without re-initializing',
  { timeout: 60_000 },
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'writ-fs-root-'));
    const elsewhere = await mkdtemp(join(tmpdir(), 'writ-fs-elsewhere-'));
    const log = memoryLog();
    const upstream = new StdioUpstream({
      resourceId: 'files',
      command: process.execPath,
      args: [FILESYSTEM_SERVER, root],
      logger: log.logger,
      backoff: { initialMs: 10 },
    });
    const closeReasons: string[] = [];
    const peer = rpcPeer(upstream);
    upstream.onClose = (reason) => closeReasons.push(reason);
    const pids: number[] = [];
    upstream.process.on('started', ({ pid }) => pids.push(pid));
    try {
      await writeFile(join(root, 'hello.txt'), 'hello from inside the root\n');
      await writeFile(join(elsewhere, 'secret.txt'), 'not for you\n');
      await upstream.start();

      const init = await peer.request('initialize', INITIALIZE);
      assert.equal((init.result as { serverInfo: { name: string } }).serverInfo.name, 'secure-filesystem-server');
      await peer.notify('notifications/initialized');

      const names = resultOf(await peer.request('tools/list')).tools?.map((t) => t.name) ?? [];
      assert.ok(names.includes('read_text_file'), names.join(', '));

      const readInside = { name: 'read_text_file', arguments: { path: join(root, 'hello.txt') } };
      const inside = resultOf(await peer.request('tools/call', readInside));
      assert.equal(inside.content?.[0]?.text, 'hello from inside the root\n');

      // Outside the allowed directory: the server refuses by itself, as a tool result with isError (not a JSON-RPC error).
      const outside = resultOf(
        await peer.request('tools/call', { name: 'read_text_file', arguments: { path: join(elsewhere, 'secret.txt') } }),
      );
      assert.equal(outside.isError, true);
      assert.match(outside.content?.[0]?.text ?? '', /Access denied - path outside allowed directories/);

      await log.waitFor(
        (l) => l.stream === 'stderr' && l.resource_id === 'files' && l.line === 'Secure MCP Filesystem Server running on stdio',
      );

      // Crash with a request just written: it is answered once, by the server or by the connection — never left open.
      const firstPid = upstream.process.pid as number;
      const restarted = nextEvent<SupervisedStart>(upstream.process, 'started');
      const inFlight = peer.begin('tools/call', readInside);
      await inFlight.sent;
      process.kill(firstPid, 'SIGKILL');
      const answer = await inFlight.answer;
      if ('error' in answer) assert.deepEqual(answer.error, { code: UPSTREAM_RESTARTED_CODE, message: 'upstream restarted' });
      else assert.equal(resultOf(answer).content?.[0]?.text, 'hello from inside the root\n');
      const second = await restarted;
      assert.notEqual(second.pid, firstPid);

      // The relay goes on as if nothing happened: no initialize from the test, and the call works.
      const again = resultOf(await peer.request('tools/call', readInside));
      assert.equal(again.content?.[0]?.text, 'hello from inside the root\n');
      assert.equal(peer.messages.filter((m) => m.id === inFlight.id).length, 1, 'exactly one answer for the in-flight request');
      assert.ok(!peer.messages.some((m) => String(m.id).startsWith('writ-replay')), 'the replayed initialize response is swallowed');
      assert.equal(isAlive(firstPid), false);

      await upstream.close();
      assert.deepEqual(closeReasons, ['closed']);
      for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} is gone`);
      await assert.rejects(
        peer.request('tools/list'),
        (err: unknown) => err instanceof UpstreamError && err.code === 'ERR_UPSTREAM_UNAVAILABLE',
      );
    } finally {
      await upstream.close();
      await rm(root, { recursive: true, force: true });
      await rm(elsewhere, { recursive: true, force: true });
    }
  },
);

test(
  'fixture: the in-flight request gets -32603, sends while down are refused, the session is replayed once',
  { timeout: 30_000 },
  async () => {
    const clock = manualClock();
    const upstream = fixtureUpstream({ clock });
    const peer = rpcPeer(upstream);
    try {
      await upstream.start();
      const init = await peer.request('initialize', INITIALIZE);
      assert.ok('result' in init);
      await peer.notify('notifications/initialized');
      const before = resultOf(await peer.request('stats')) as unknown as { pid: number };

      const hanging = peer.begin('hang');
      await hanging.sent;
      const restarting = nextEvent(upstream.process, 'restarting');
      process.kill(before.pid, 'SIGKILL');
      assert.deepEqual(await hanging.answer, { jsonrpc: '2.0', id: hanging.id, error: { code: -32603, message: 'upstream restarted' } });
      await restarting;

      // Down until the clock lets the restart happen: refused, not queued.
      await assert.rejects(
        peer.request('stats'),
        (err: unknown) => err instanceof UpstreamError && err.code === 'ERR_UPSTREAM_UNAVAILABLE',
      );

      const started = nextEvent(upstream.process, 'started');
      clock.fire();
      await started;
      // Sent while the replay may still be under way: held, then delivered after it.
      const after = resultOf(await peer.request('stats')) as unknown as {
        pid: number;
        initialize: { id: unknown; params: unknown }[];
        initialized: number;
        methods: string[];
      };
      assert.notEqual(after.pid, before.pid);
      assert.equal(after.initialize.length, 1);
      assert.deepEqual(after.initialize[0]?.params, INITIALIZE, 'the session’s own initialize, replayed');
      assert.equal(after.initialized, 1);
      assert.deepEqual(after.methods, ['initialize', 'notifications/initialized', 'stats'], 'replay first, in order');
      assert.equal(
        peer.messages.filter((m) => 'result' in m && typeof m.id === 'string').length,
        0,
        'no replay response reached the relay',
      );
    } finally {
      await upstream.close();
    }
  },
);

test('fixture: lines that are not one JSON-RPC object, or are over the cap, are logged and dropped', { timeout: 30_000 }, async () => {
  const log = memoryLog();
  const upstream = fixtureUpstream({ logger: log.logger, maxLineBytes: 1_024 });
  const peer = rpcPeer(upstream);
  try {
    await upstream.start();
    const lines = [
      'this is not json',
      '[1,2,3]',
      '{"jsonrpc":"1.0","id":7}',
      JSON.stringify({ jsonrpc: '2.0', method: 'x', params: 'y'.repeat(2_000) }),
    ];
    const ok = await peer.request('emit', {
      lines: [...lines, '', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { n: 1 } })],
    });
    assert.equal(ok.result, 'ok');
    assert.deepEqual(
      peer.messages.map((m) => m.method ?? m.result),
      ['notifications/message', 'ok'],
      'only the valid notification and the answer arrive',
    );
    const dropped = log.lines.filter((l) => typeof l.msg === 'string' && l.msg.endsWith('dropped')).map((l) => l.msg);
    assert.deepEqual(dropped, [
      'upstream line is not JSON; dropped',
      'upstream line is not a JSON-RPC 2.0 message; dropped',
      'upstream line is not a JSON-RPC 2.0 message; dropped',
      'upstream message too long; dropped',
    ]);
  } finally {
    await upstream.close();
  }
});

test('send() before start() and after close() is refused with ERR_UPSTREAM_UNAVAILABLE', { timeout: 30_000 }, async () => {
  const upstream = fixtureUpstream();
  const peer = rpcPeer(upstream);
  const unavailable = (err: unknown): boolean => err instanceof UpstreamError && err.code === 'ERR_UPSTREAM_UNAVAILABLE';
  await assert.rejects(peer.request('stats'), unavailable);
  await upstream.start();
  const pid = upstream.process.pid as number;
  await upstream.close();
  assert.equal(isAlive(pid), false);
  await assert.rejects(peer.request('stats'), unavailable);
});

test('fixture: an initialize that died in flight is not replayed; the relay sends it again itself', { timeout: 30_000 }, async () => {
  const clock = manualClock();
  const upstream = fixtureUpstream({ clock });
  const peer = rpcPeer(upstream);
  try {
    await upstream.start();
    const pid = upstream.process.pid as number;
    const init = peer.begin('initialize', { ...INITIALIZE, clientInfo: { name: 'never-answered', version: '0' } });
    await init.sent;
    process.kill(pid, 'SIGKILL');
    assert.deepEqual((await init.answer).error, { code: -32603, message: 'upstream restarted' });
    const started = nextEvent(upstream.process, 'started');
    clock.fire();
    await started;
    const stats = resultOf(await peer.request('stats')) as unknown as { initialize: unknown[]; methods: string[] };
    assert.deepEqual(stats.methods, ['stats'], 'nothing replayed into the new process');
    assert.ok('result' in (await peer.request('initialize', INITIALIZE)), 'the relay initializes the new process');
  } finally {
    await upstream.close();
  }
});
