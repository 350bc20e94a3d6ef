/**
 * The `writ` CLI as an operator runs it: the built main.js in a process of its own, against a real Writ on every
 * store. Exit codes are part of the contract (scripts and CI branch on them), so each case asserts one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { describeEachStore } from '../helpers/stores.js';
import { DEFAULT_GRANT, useHarness } from '../helpers/writ-harness.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously: a synchronous spawn would block this process, and with it the Writ it talks to. */
function writ(args: string[], env: { url: string; token: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      // Only what an operator would set: an inherited WRIT_* or NODE_* variable must not change what is tested.
      { env: { PATH: process.env['PATH'] ?? '', WRIT_URL: env.url, WRIT_ADMIN_TOKEN: env.token }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err === null) resolve({ code: 0, stdout, stderr });
        else if (typeof err.code === 'number') resolve({ code: err.code, stdout, stderr });
        else reject(new Error(`writ ${args.join(' ')} did not exit normally (${err.signal ?? err.code ?? err.message}): ${stderr}`));
      },
    );
  });
}

/** A loopback port that was just free: listen on an OS-chosen one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve, reject) => server.close((err) => (err === undefined ? resolve() : reject(err))));
  return address.port;
}

describe('writ CLI without a server', () => {
  test('every command and subcommand has a description', () => {
    const missing: string[] = [];
    const walk = (cmd: Command, path: string[]): void => {
      for (const sub of cmd.commands) {
        const name = [...path, sub.name()];
        if (sub.description().trim() === '') missing.push(name.join(' '));
        walk(sub, name);
      }
    };
    const program = buildProgram();
    walk(program, [program.name()]);
    assert.ok(program.commands.length > 0);
    assert.deepEqual(missing, []);
  });

  test('a Writ that cannot be reached: the error names the URL and the network cause, exit 1', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await writ(['agents', 'list'], { url, token: 'any-token' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^writ: ERR_ADMIN_CLIENT_UNREACHABLE: cannot reach Writ at /);
    assert.ok(r.stderr.includes(`at ${url} (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:`), r.stderr);
    assert.match(r.stderr, /Set WRIT_URL/);
    assert.equal(r.stdout, '');
  });
});

describeEachStore('writ CLI', (kind) => {
  const h = useHarness(kind);
  let dir: string;
  let env: { url: string; token: string };
  before(async () => {
    env = { url: h.writ.url, token: h.adminToken };
    dir = mkdtempSync(join(tmpdir(), 'writ-cli-'));
  });
  after(async () => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('grants validate: exit 0 and a confirmation for a valid policy', async () => {
    const file = join(dir, 'valid.cedar');
    writeFileSync(file, DEFAULT_GRANT);
    const r = await writ(['grants', 'validate', file], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${file}: valid (1 policy)\n`);
    assert.equal(r.stderr, '');
  });

  test('grants validate: exit 1 and the validation errors for an invalid policy', async () => {
    const file = join(dir, 'invalid.cedar');
    // Parses, but names an action the Writ schema does not have: only validation catches it.
    writeFileSync(file, 'permit (principal, action == Writ::Action::"teleport", resource);');
    const r = await writ(['grants', 'validate', file], env);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    const [head, ...errors] = r.stderr.trimEnd().split('\n');
    assert.equal(head, `writ: ${file}: invalid policy`);
    assert.ok(errors.length > 0 && errors.every((e) => e.startsWith('  - ')), r.stderr);
    assert.match(r.stderr, /teleport/);

    const json = await writ(['grants', 'validate', '--json', file], env);
    assert.equal(json.code, 1, 'the exit code says invalid in JSON mode too');
    assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, false);
  });

  test('audit chain: an unknown task is not found (404 from the API, exit 1 from the CLI)', async () => {
    const res = await fetch(`${h.writ.url}/admin/v1/tasks/task_nope/audit`, { headers: { authorization: `Bearer ${h.adminToken}` } });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'ERR_ADMIN_NOT_FOUND');

    const r = await writ(['audit', 'chain', 'task_nope'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^writ: ERR_ADMIN_NOT_FOUND: .*task_nope/);
    assert.equal(r.stdout, '');
  });

  test('vault status and rotate-kek: counts per KEK id, nothing left to move when one KEK was ever used (exit 0)', async () => {
    const status = await writ(['vault', 'status'], env);
    assert.equal(status.code, 0, status.stderr);
    const inv = JSON.parse(status.stdout) as {
      current: string;
      remaining: number;
      columns: { name: string; byKek: Record<string, number> }[];
    };
    assert.equal(inv.current, 'kek-1');
    assert.equal(inv.remaining, 0);
    assert.ok((inv.columns.find((c) => c.name === 'secrets')?.byKek['kek-1'] ?? 0) >= 1);
    const rotated = await writ(['vault', 'rotate-kek'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.deepEqual((JSON.parse(rotated.stdout) as { rewrapped: number; failed: unknown[] }).failed, []);
    assert.ok(!status.stdout.includes(h.kek) && !rotated.stdout.includes(h.kek));
  });

  test('audit chain: a known task still prints its chain, exit 0', async () => {
    const agent = await h.registerAgent('agent-a');
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] });
    const r = await writ(['audit', 'chain', task.id], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dev:alice/);
    assert.match(r.stdout, /agent-a/);
    const tree = await writ(['agents', 'tree', 'agent-a'], env);
    assert.equal(tree.code, 0, tree.stderr);
    assert.match(tree.stdout, new RegExp(`^agent-a for dev:alice — ${task.id} \\[active\\]`, 'm'));
    const none = await writ(['agents', 'tree', 'nobody'], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /ERR_ADMIN_NOT_FOUND/);
  });
});
