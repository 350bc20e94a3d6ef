/**
 * Writ itself dies without a clean shutdown (SIGKILL): its upstream processes must not live on. The child's stdin
 * is a pipe from Writ, so it reaches end-of-file; a stdio server exits on that by itself, and an HTTP server exits
 * through the loopback preload. Nothing here waits a fixed time: each test waits for the pid to go, bounded only by
 * the test's timeout.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isAlive, waitUntilGone } from './upstream-test-kit.js';

const PARENT = fileURLToPath(new URL('./fixtures/abandoning-parent.js', import.meta.url));

async function childOfKilledParent(kind: 'http' | 'stdio'): Promise<number> {
  const parent = spawn(process.execPath, [PARENT, kind], { stdio: ['ignore', 'pipe', 'inherit'] });
  const childPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    parent.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    parent.once('exit', (code) => reject(new Error(`parent exited early with ${code}`)));
  });
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  parent.kill('SIGKILL');
  await exited;
  return childPid;
}

for (const kind of ['http', 'stdio'] as const) {
  test(`${kind}: the upstream process ends by itself when Writ is SIGKILLed`, { timeout: 30_000 }, async () => {
    const pid = await childOfKilledParent(kind);
    assert.ok(pid > 0);
    try {
      await waitUntilGone(pid);
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL'); // only on failure (timeout): do not leave it behind either way
    }
  });
}
