/**
 * The MCP conformance suite's authorization-server scenarios (`@modelcontextprotocol/conformance`, which needs Node
 * 22: tools/conformance holds both, installed by .ci/run with `npm ci --prefix tools/conformance`) against Writ.
 * The suite prints the authorization URL for a person to open; alice, scripted, signs in and approves, and her browser
 * delivers the redirect to the suite's callback listener. Every scenario must pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PATHS } from '@writ/protocol';
import { authorizeAs, freePort } from '@writ/dev/kit';
import { STORE_KINDS } from '../helpers/stores.js';
import { startAuthorizationHarness } from '../helpers/authorization-harness.js';

const TOOLS = fileURLToPath(new URL('../../../../../tools/conformance/node_modules/', import.meta.url));
const NODE22 = join(TOOLS, 'node/bin/node');
const SUITE = join(TOOLS, '@modelcontextprotocol/conformance/dist/index.js');
const kind = STORE_KINDS.find((k) => k.name === 'sqlite');
const skip =
  existsSync(NODE22) && existsSync(SUITE)
    ? false
    : 'tools/conformance is not installed (npm ci --prefix tools/conformance): the MCP conformance suite is SKIPPED';
if (skip !== false) console.error(`!! ${skip}`);

test('MCP conformance suite: authorization-server scenarios pass against Writ', { skip, timeout: 180_000 }, async (t) => {
  if (kind === undefined) throw new Error('no sqlite store kind');
  const out = mkdtempSync(join(tmpdir(), 'writ-conformance-'));
  const h = await startAuthorizationHarness(kind, { tools: ['echo'] });
  t.after(async () => {
    await h.close();
    rmSync(out, { recursive: true, force: true });
  });
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const reg = await fetch(`${h.writ.publicUrl}${PATHS.register}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'MCP conformance suite', redirect_uris: [redirectUri] }),
  });
  const clientId = ((await reg.json()) as { client_id: string }).client_id;
  const alice = h.alice;

  const env: Record<string, string> = { BROWSER: 'true' };
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !['DISPLAY', 'WAYLAND_DISPLAY', 'BROWSER'].includes(k)) env[k] = v;
  const child = spawn(
    NODE22,
    [
      SUITE,
      'authorization',
      '--url',
      h.writ.publicUrl,
      '--client-id',
      clientId,
      '--resource',
      h.mcpUri('everything'),
      '-p',
      String(port),
      '-o',
      out,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const signIns: Array<Promise<void>> = [];
  const seen = new Set<string>();
  const onData = (chunk: string): void => {
    output += chunk;
    for (const m of output.matchAll(/https?:\/\/[^\s"'<>]+\/oauth2\/authorize\?[^\s"'<>]+/g)) {
      const url = m[0];
      if (seen.has(url)) continue;
      seen.add(url);
      signIns.push(
        authorizeAs(url, alice, { redirectUri }).then(async ({ url: back }) => {
          await (await fetch(back)).text();
        }),
      );
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await Promise.all(signIns);
  const results = readdirSync(out, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.json') && statSync(join(out, f)).isFile())
    .map((f) => readFileSync(join(out, f), 'utf8'));
  assert.equal(code, 0, `${output.slice(-4000)}\n${results.join('\n').slice(0, 4000)}`);
  assert.ok(seen.size >= 1, 'the suite asked for a sign-in');
  const total = /Total: (\d+) passed, (\d+) failed/.exec(output);
  assert.ok(total !== null, output.slice(-2000));
  assert.equal(total[2], '0');
  assert.ok(Number(total[1]) >= 3, `only ${total[1]} checks ran`);
});
