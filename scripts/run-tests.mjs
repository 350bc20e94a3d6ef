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
const withoutPostgres = !process.env.WRIT_TEST_DATABASE_URL;
const SKIP_REASON = '# WRIT_TEST_DATABASE_URL not set';
const bar = '!'.repeat(78);
if (withoutPostgres) {
  console.log(
    `${bar}\n!! WRIT_TEST_DATABASE_URL is not set: every PostgreSQL suite is SKIPPED; only SQLite runs.\n!! Set it (e.g. postgres://postgres@127.0.0.1:5432/test) to run the whole suite on both stores.\n${bar}`,
  );
}
const concurrency = process.env.WRIT_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  stdio: ['inherit', 'pipe', 'inherit'],
  // The report passes through a pipe (to count the skipped suites); keep its colours when a person is watching.
  env: { ...process.env, NODE_ENV: 'test', ...(process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}) },
});
// The spec reporter prints each skipped suite once, with its reason after `#`; nested tests of a skipped suite are
// not reported, so this counts suites.
let skippedSuites = 0;
let partial = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  const lines = (partial + chunk.toString('utf8')).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) if (line.includes(SKIP_REASON)) skippedSuites++;
});
child.on('exit', (code, signal) => {
  if (partial.includes(SKIP_REASON)) skippedSuites++;
  if (withoutPostgres) {
    console.log(
      `${bar}\n!! ${skippedSuites} PostgreSQL suite${skippedSuites === 1 ? ' was' : 's were'} SKIPPED: WRIT_TEST_DATABASE_URL is not set, so only SQLite ran.\n!! Set it (e.g. postgres://postgres@127.0.0.1:5432/test) to run the whole suite on both stores.\n${bar}`,
    );
  }
  process.exit(code ?? (signal ? 1 : 0));
});
