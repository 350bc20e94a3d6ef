/**
 * cedar-wasm runs only in the worker thread (with better-sqlite3 in the same isolate it crashed V8). A child process
 * uses the engine in full and reports any Cedar WebAssembly compiled in its main thread and any @cedar-policy module
 * in its main thread's require cache. The same probe, told to make the mistake on purpose, must report it: the
 * check is shown to fail when it should.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const PROBE = fileURLToPath(new URL('./fixtures/main-thread-probe.js', import.meta.url));

interface Report {
  decision: string;
  reasons: string[];
  wasm: string[][];
  requireCache: string[];
}

async function probe(mode: string): Promise<Report> {
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE, mode], { encoding: 'utf8', timeout: 60_000 });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Report;
}

test('the main thread never loads cedar-wasm, while the engine validates, loads and decides', async () => {
  const report = await probe('engine');
  // The engine really worked in the child (so nothing was skipped).
  assert.equal(report.decision, 'allow');
  assert.deepEqual(report.reasons, ['g.0']);
  assert.deepEqual(report.wasm, [], 'no Cedar WebAssembly compiled in the main thread');
  assert.deepEqual(report.requireCache, [], 'no @cedar-policy module in the main thread');
});

test('the probe does catch cedar-wasm in the main thread (imported directly, or via the worker module)', async () => {
  for (const mode of ['import-cedar', 'import-worker']) {
    const report = await probe(mode);
    assert.equal(report.decision, 'allow', mode);
    assert.ok(report.wasm.length > 0, `${mode}: Cedar WebAssembly seen in the main thread`);
    assert.ok(report.wasm[0]?.includes('statefulIsAuthorized'), mode);
    assert.ok(
      report.requireCache.some((p) => p.includes('cedar_wasm')),
      `${mode}: ${JSON.stringify(report.requireCache)}`,
    );
  }
});
