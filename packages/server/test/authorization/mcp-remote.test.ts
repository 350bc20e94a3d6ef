/**
 * `mcp-remote` (the stdio bridge desktop MCP hosts use) through its own OAuth flow, headless: it finds Writ from the
 * resource's 401, registers by RFC 7591, opens "the browser" (a scripted one, through BROWSER) that signs alice in and
 * approves consent, redeems the code with PKCE, checks RFC 9207 `iss`, and then bridges JSON-RPC: the consented
 * tools work through Writ, and its default scopes (`openid email profile`) neither break nor widen anything.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '@writ/dev/kit';
import { STORE_KINDS } from '../helpers/stores.js';
import { startAuthorizationHarness } from '../helpers/authorization-harness.js';

const MCP_REMOTE = createRequire(import.meta.url).resolve('mcp-remote/dist/proxy.js');
const BROWSER = fileURLToPath(new URL('./fixtures/headless-browser.js', import.meta.url));

const kind = STORE_KINDS.find((k) => k.name === 'sqlite');

test('mcp-remote signs in through Writ and bridges the consented tools', { timeout: 120_000 }, async (t) => {
  if (kind === undefined) throw new Error('no sqlite store kind');
  const dir = mkdtempSync(join(tmpdir(), 'writ-mcp-remote-'));
  const h = await startAuthorizationHarness(kind, { tools: ['echo', 'get-sum'] });
  const browser = join(dir, 'browser.sh');
  writeFileSync(browser, `#!/bin/sh\nexec "${process.execPath}" "${BROWSER}" "$@"\n`);
  chmodSync(browser, 0o755);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !['DISPLAY', 'WAYLAND_DISPLAY'].includes(k)) env[k] = v;
  const child = spawn(
    process.execPath,
    [MCP_REMOTE, h.mcpUri('everything'), String(await freePort()), '--host', '127.0.0.1', '--transport', 'http-only'],
    {
      env: {
        ...env,
        BROWSER: browser,
        MCP_REMOTE_CONFIG_DIR: join(dir, 'config'),
        WRIT_TEST_USER: 'alice',
        WRIT_TEST_PASSWORD: h.alice.password,
        WRIT_TEST_BROWSER_LOG: join(dir, 'browser.log'),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  t.after(async () => {
    child.kill();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const answers = new Map<number, (m: Record<string, unknown>) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof m['id'] === 'number') answers.get(m['id'])?.(m);
  });
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => {
      let browserLog = '';
      try {
        browserLog = readFileSync(join(dir, 'browser.log'), 'utf8');
      } catch {
        /* the browser never ran */
      }
      reject(new Error(`mcp-remote exited ${code}\n${stderr.slice(-3000)}\nbrowser: ${browserLog}`));
    }),
  );
  let id = 0;
  const rpc = (method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const n = ++id;
    const answer = new Promise<Record<string, unknown>>((resolve) => answers.set(n, resolve));
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: n, method, params })}\n`);
    return Promise.race([answer, exited]);
  };

  const init = await rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host', version: '1' } });
  assert.ok(init['result'] !== undefined, JSON.stringify(init));
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  const list = await rpc('tools/list', {});
  const names = ((list['result'] as { tools: Array<{ name: string }> }).tools ?? []).map((x) => x.name).sort();
  assert.deepEqual(names, ['echo', 'get-sum']);
  const echo = await rpc('tools/call', { name: 'echo', arguments: { message: 'via mcp-remote' } });
  assert.match(JSON.stringify(echo['result']), /via mcp-remote/);
  const env2 = await rpc('tools/call', { name: 'get-env', arguments: {} });
  assert.ok(env2['error'] !== undefined || (env2['result'] as { isError?: boolean }).isError === true, JSON.stringify(env2));
  // It registered itself: an oauth_client agent in the register, its token a bearer task token for alice.
  const agents = await h.admin.get<Array<{ kind: string }>>('/agents');
  assert.ok(agents.some((a) => a.kind === 'oauth_client'));
  const tasks = await h.admin.get<Array<{ userId: string; status: string }>>('/tasks');
  assert.ok(tasks.some((x) => x.userId === 'dev:alice' && x.status === 'active'));
});
