/**
 * LoopbackHttpProcess with the real `@modelcontextprotocol/server-everything` in streamableHttp mode (which calls
 * `app.listen(PORT)`, i.e. every interface): the SDK client lists its tools, the listening socket is 127.0.0.1 only
 * (read from /proc/net/tcp), a SIGKILLed server comes back on the same URL and takes a new session, its environment
 * holds nothing of Writ's, and close() leaves no process behind. The preload is also run against each `listen` form.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoopbackHttpProcess, loopbackListenArgs, type LoopbackReady } from '../../../src/gateway/mcp/upstream/index.js';
import { EVERYTHING_SERVER, isAlive, memoryLog, nextEvent } from './upstream-test-kit.js';

const LISTEN_FORMS = fileURLToPath(new URL('./fixtures/listen-forms.js', import.meta.url));
const HAS_PROC_NET = existsSync('/proc/net/tcp');

/** Local addresses (hex, as the kernel writes them) of LISTEN sockets on `port`, from /proc/net/tcp or tcp6. */
function listeners(file: '/proc/net/tcp' | '/proc/net/tcp6', port: number): string[] {
  if (!existsSync(file)) return [];
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === '0A' && f[1]?.endsWith(`:${hexPort}`))
    .map((f) => (f[1] as string).split(':')[0] as string);
}

function assertLoopbackOnly(port: number): void {
  if (!HAS_PROC_NET) {
    console.warn(`!!! /proc/net/tcp is absent: the 127.0.0.1-only bind of port ${port} is NOT checked on this platform`);
    return;
  }
  assert.deepEqual(listeners('/proc/net/tcp', port), ['0100007F'], 'one IPv4 LISTEN socket, on 127.0.0.1');
  assert.deepEqual(listeners('/proc/net/tcp6', port), [], 'no IPv6 LISTEN socket (`::` would be every interface)');
}

async function listTools(url: string): Promise<string[]> {
  const client = new Client({ name: 'writ-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    return (await client.listTools()).tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

test(
  'server-everything over Streamable HTTP on loopback: tools, 127.0.0.1 only, survives SIGKILL, no orphan',
  { timeout: 90_000 },
  async () => {
    const log = memoryLog();
    const saved = process.env.WRIT_KEK;
    process.env.WRIT_KEK = 'parent-only-secret';
    const everything = await LoopbackHttpProcess.start({
      resourceId: 'everything',
      args: [EVERYTHING_SERVER, 'streamableHttp'],
      logger: log.logger,
      backoff: { initialMs: 10 },
    });
    const pids: number[] = [everything.process.pid as number];
    try {
      assert.equal(everything.url, `http://127.0.0.1:${everything.port}/mcp`);
      assert.equal(everything.ready, true);
      const tools = await listTools(everything.url);
      assert.ok(tools.includes('echo') && tools.includes('get-env'), tools.join(', '));
      assertLoopbackOnly(everything.port);

      // What the server sees of our environment, asked through its own get-env tool.
      const client = new Client({ name: 'writ-test', version: '0.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(everything.url)));
      const envResult = (await client.callTool({ name: 'get-env', arguments: {} })) as { content: { text: string }[] };
      await client.close();
      const childEnv = JSON.parse(envResult.content[0]?.text ?? '{}') as Record<string, string>;
      assert.equal(childEnv.WRIT_KEK, undefined);
      assert.equal(childEnv.PORT, String(everything.port));

      const firstPid = pids[0] as number;
      const back = nextEvent<LoopbackReady>(everything, 'ready', (r) => r.pid !== firstPid);
      process.kill(firstPid, 'SIGKILL');
      const ready = await back;
      pids.push(ready.pid);
      assert.equal(ready.url, everything.url, 'the same port, so the same URL');
      assert.equal(ready.run, 2);
      assert.equal(isAlive(firstPid), false);
      assert.ok((await listTools(everything.url)).includes('echo'), 'a new session on the restarted server');
      assertLoopbackOnly(everything.port);

      const stderr = log.lines.filter((l) => l.stream === 'stderr').map((l) => l.line);
      assert.ok(stderr.includes(`MCP Streamable HTTP Server listening on port ${everything.port}`), stderr.join(' | '));
    } finally {
      await everything.close();
      if (saved === undefined) delete process.env.WRIT_KEK;
      else process.env.WRIT_KEK = saved;
    }
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} is gone`);
  },
);

for (const form of ['port', 'port-cb', 'string-port-cb', 'port-any-host', 'port-ipv6-any-backlog', 'options', 'options-any-host']) {
  test(`the preload keeps listen form "${form}" on 127.0.0.1`, { timeout: 30_000 }, async () => {
    const server = await LoopbackHttpProcess.start({
      resourceId: `listen-${form}`,
      args: [LISTEN_FORMS],
      env: { LISTEN_FORM: form },
      path: '/',
      logger: memoryLog().logger,
    });
    try {
      assertLoopbackOnly(server.port);
    } finally {
      await server.close();
    }
  });
}

test('loopbackListenArgs: every form, and what it leaves alone', () => {
  const cb = (): void => undefined;
  assert.deepEqual(loopbackListenArgs([3001]), [3001, '127.0.0.1']);
  assert.deepEqual(loopbackListenArgs([3001, cb]), [3001, '127.0.0.1', cb]);
  assert.deepEqual(loopbackListenArgs(['3001', cb]), ['3001', '127.0.0.1', cb]);
  assert.deepEqual(loopbackListenArgs([3001, 511, cb]), [3001, '127.0.0.1', 511, cb]);
  assert.deepEqual(loopbackListenArgs([3001, '0.0.0.0', cb]), [3001, '127.0.0.1', cb]);
  assert.deepEqual(loopbackListenArgs([3001, '::', 511]), [3001, '127.0.0.1', 511]);
  assert.deepEqual(loopbackListenArgs([3001, 'localhost']), [3001, '127.0.0.1'], 'a name is not trusted to resolve to loopback');
  assert.deepEqual(loopbackListenArgs([3001, '10.1.2.3']), [3001, '127.0.0.1']);
  assert.deepEqual(loopbackListenArgs([3001, '127.0.0.2']), [3001, '127.0.0.2'], 'already loopback');
  assert.deepEqual(loopbackListenArgs([3001, '::1']), [3001, '::1'], 'already loopback');
  assert.deepEqual(loopbackListenArgs([3001, '127.0.0.300']), [3001, '127.0.0.1'], 'not an address');
  assert.deepEqual(loopbackListenArgs([{ port: 3001 }, cb]), [{ port: 3001, host: '127.0.0.1' }, cb]);
  assert.deepEqual(loopbackListenArgs([{ port: 3001, host: '0.0.0.0', backlog: 5 }]), [{ port: 3001, host: '127.0.0.1', backlog: 5 }]);
  assert.deepEqual(loopbackListenArgs([{ port: 3001, host: '::1' }]), [{ port: 3001, host: '::1' }]);
  assert.deepEqual(loopbackListenArgs([]), [0, '127.0.0.1']);
  assert.deepEqual(loopbackListenArgs([cb]), [0, '127.0.0.1', cb]);
  assert.deepEqual(loopbackListenArgs([undefined, cb]), [0, '127.0.0.1', cb]);
  assert.deepEqual(loopbackListenArgs(['/tmp/mcp.sock', cb]), ['/tmp/mcp.sock', cb], 'a unix socket is not a TCP bind');
  assert.deepEqual(loopbackListenArgs([{ path: '/tmp/mcp.sock' }]), [{ path: '/tmp/mcp.sock' }]);
  assert.deepEqual(loopbackListenArgs([{ fd: 3 }]), [{ fd: 3 }], 'an inherited handle is bound already');
});
