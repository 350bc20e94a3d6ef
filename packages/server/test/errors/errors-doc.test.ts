/**
 * docs/errors.md is the reference of every wire error family and of the internal codes: a code missing from it, or
 * documented with another status, fails here. And no code is made up on the spot: every `'ERR_…'` literal in the
 * packages' sources is one of a registry.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '@writ/protocol';
import {
  ADMIN_ERROR_STATUS,
  AUTHORIZATION_RESPONSE_ERRORS,
  INTERNAL_ERROR_CODES,
  OAUTH_ERROR_STATUS,
  REGISTRATION_ERROR_STATUS,
  RPC,
  SSF_ERROR_STATUS,
} from '../../src/errors/index.js';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');

/** The rows of the table under `## heading`, by their first cell. */
function rows(heading: string): Map<string, string[]> {
  const start = doc.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `docs/errors.md has no section "${heading}"`);
  const end = doc.indexOf('\n## ', start + 1);
  const out = new Map<string, string[]>();
  for (const line of doc.slice(start, end === -1 ? undefined : end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (line.startsWith('| ') && cells.length > 3 && !/^-+$/.test(cells[1] ?? ''))
      out.set((cells[1] as string).replace(/`/g, ''), cells.slice(2, -1));
  }
  return out;
}

function sameKeys(documented: Map<string, string[]>, registry: string[], family: string): void {
  const header = [...documented.keys()][0];
  assert.deepEqual(
    [...documented.keys()].filter((k) => k !== header).sort(),
    [...registry].sort(),
    `docs/errors.md, ${family}: codes differ from the registry`,
  );
}

test('OAuth errors: every code with its status', () => {
  const t = rows('Token endpoint');
  sameKeys(t, Object.keys(OAUTH_ERROR_STATUS), 'Token endpoint');
  for (const [code, status] of Object.entries(OAUTH_ERROR_STATUS)) assert.equal(t.get(code)?.[0], String(status), code);
});

test('admin errors: every code with its status', () => {
  const t = rows('Admin API');
  sameKeys(t, Object.keys(ADMIN_ERROR_STATUS), 'Admin API');
  for (const [code, status] of Object.entries(ADMIN_ERROR_STATUS)) assert.equal(t.get(code)?.[0], String(status), code);
});

test('Shared Signals errors: every code with its status', () => {
  const t = rows('Shared Signals');
  sameKeys(t, Object.keys(SSF_ERROR_STATUS), 'Shared Signals');
  for (const [code, status] of Object.entries(SSF_ERROR_STATUS)) assert.equal(t.get(code)?.[0], String(status), code);
});

test('JSON-RPC errors: every code with its name', () => {
  const t = rows('MCP (JSON-RPC)');
  sameKeys(t, Object.values(RPC).map(String), 'MCP (JSON-RPC)');
  for (const [name, code] of Object.entries(RPC)) assert.equal(t.get(String(code))?.[0], name, String(code));
});

test('internal codes: the table equals the registry', () => {
  const t = rows('Internal codes');
  sameKeys(t, Object.keys(INTERNAL_ERROR_CODES), 'Internal codes');
  for (const [code, meaning] of Object.entries(INTERNAL_ERROR_CODES)) assert.equal(t.get(code)?.[0], meaning, code);
});

test("every 'ERR_…' code written in the packages' sources is in a registry", () => {
  // Node's own codes that Writ recognises (not Writ's to register).
  const nodes = ['ERR_MODULE_NOT_FOUND'];
  const known = new Set([...Object.keys(ERROR_CODES), ...Object.keys(ADMIN_ERROR_STATUS), ...Object.keys(INTERNAL_ERROR_CODES), ...nodes]);
  const unknown: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts'))
        for (const m of readFileSync(p, 'utf8').matchAll(/['"`](ERR_[A-Z][A-Z_]*[A-Z])['"`]/g))
          if (!known.has(m[1] as string)) unknown.push(`${p}: ${m[1]}`);
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src');
    if (statSync(src, { throwIfNoEntry: false })?.isDirectory() === true) walk(src);
  }
  assert.deepEqual(unknown, []);
});

test('authorization endpoint and registration errors: every code', () => {
  const a = rows('Authorization endpoint');
  sameKeys(a, [...AUTHORIZATION_RESPONSE_ERRORS], 'Authorization endpoint');
  const r = rows('Client registration');
  sameKeys(r, Object.keys(REGISTRATION_ERROR_STATUS), 'Client registration');
  for (const [code, status] of Object.entries(REGISTRATION_ERROR_STATUS)) assert.equal(r.get(code)?.[0], String(status), code);
});
