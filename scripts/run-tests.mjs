#!/usr/bin/env node
// Runs every compiled test file (`*.test.js` under packages/*/dist/test and test/dist) with node's test runner.
// PostgreSQL suites run when WRIT_TEST_DATABASE_URL is set; otherwise they are skipped, and we say so loudly.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = [
  'packages/protocol/dist/test',
  'packages/verify/dist/test',
  'packages/agent/dist/test',
  'packages/server/dist/test',
  'packages/dev/dist/test',
  'test/dist',
];
const filter = process.argv.slice(2);
const files = [];
function walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filter.length === 0 || filter.some((f) => p.includes(f)))) files.push(p);
  }
}
for (const r of roots) walk(r);
files.sort();
if (files.length === 0) {
  console.error('no test files found; did the build run?');
  process.exit(1);
}
if (!process.env.WRIT_TEST_DATABASE_URL) {
  const bar = '!'.repeat(78);
  console.log(
    `${bar}\n!! WRIT_TEST_DATABASE_URL is not set: every PostgreSQL suite is SKIPPED; only SQLite runs.\n!! Set it (e.g. postgres://postgres@127.0.0.1:5432/test) to run the whole suite on both stores.\n${bar}`,
  );
}
const concurrency = process.env.WRIT_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
