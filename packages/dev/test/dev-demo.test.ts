/**
 * `writ dev` end to end, as a person runs it: the real dev identity provider, demo upstream, Writ on SQLite, the
 * seeding through the admin API and the demo agent in its own process. The demo must show every step it promises.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDev } from '../src/run-dev.js';

test('writ dev runs the demo: allowed, refused, completed, refused again, audit chain verified', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'writ-dev-'));
  const lines: string[] = [];
  try {
    const handle = await runDev({ port: 0, dataDir, keepData: false, demo: true, exitAfterDemo: true, out: (l) => lines.push(l) });
    const text = lines.join('\n');
    assert.equal(handle.demoOk, true, text);
    assert.match(text, /alice › got an ID token/);
    assert.match(text, /agent › GET \/v1\/projects → 200/);
    assert.match(text, /upstream › GET \/v1\/projects: API key valid \(injected by Writ\); agent credentials seen: none/);
    assert.match(text, /agent › DELETE \/v1\/projects\/1 → 403 .*ERR_ACTION_NOT_AUTHORIZED/);
    assert.match(text, /agent › GET \/v1\/admin\/users → 403/);
    assert.match(text, /agent › GET \/v1\/projects → 401 .*ERR_REVOKED_TASK/);
    assert.match(text, /dev:alice\n└─ demo-agent/);
    assert.match(text, /ALLOW +GET \/v1\/projects → 200/);
    assert.match(text, /DENY +DELETE \/v1\/projects\/1 → 403 +\(ERR_ACTION_NOT_AUTHORIZED\)/);
    assert.match(text, /task\.completed/);
    assert.match(text, /hash chain verified: \d+ events, untampered/);
    assert.match(text, /agent › MCP tools\/list → \["echo","get-sum"\]/);
    assert.match(text, /agent › MCP tools\/call echo → \[\{"type":"text","text":"Echo: hello through Writ"\}\]/);
    assert.match(text, /agent › MCP tools\/call get-env → JSON-RPC error -32003 ERR_ACTION_NOT_AUTHORIZED/);
    assert.match(text, /agent › MCP tools\/call echo → refused: .*ERR_REVOKED_TASK/);
    assert.match(text, /DENY +tools\/call get-env → 403 +\(ERR_ACTION_NOT_AUTHORIZED\)/);
    assert.match(text, /Writ stopped \(--exit-after-demo\)/);
    assert.doesNotMatch(text, /keeps running/, 'a demo that exits does not say Writ keeps running');
    assert.doesNotMatch(text, /demo_sk_/, 'the upstream API key never appears in the output');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('writ dev prints the console URL and a one-time link that signs the dev admin in', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'writ-dev-'));
  const lines: string[] = [];
  const handle = await runDev({ port: 0, dataDir, keepData: false, demo: false, exitAfterDemo: false, out: (l) => lines.push(l) });
  try {
    const text = lines.join('\n');
    assert.match(text, new RegExp(`Console: ${handle.writ.publicUrl}/console/ +\\(admin: dana, read-only: bob\\)`));
    const link = /signed in as the dev admin, once, within 5 minutes: (\S+)/.exec(text)?.[1];
    assert.ok(link !== undefined, text);
    const opened = await fetch(link, { redirect: 'manual' });
    assert.equal(opened.status, 303);
    const cookie = (opened.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
    const session = (await (await fetch(`${handle.writ.publicUrl}/console/session`, { headers: { cookie } })).json()) as { role?: string };
    assert.equal(session.role, 'admin');
    assert.equal((await fetch(link, { redirect: 'manual' })).status, 400, 'the link works once');
    assert.match(text, /dana \/ \S+/, 'the console admin account is printed with the others');
  } finally {
    await handle.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
