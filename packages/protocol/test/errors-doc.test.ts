import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/index.js';

test('docs/errors.md lists every error code with its status and challenge', () => {
  const whole = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
  // The enforcement codes' table: the first section (the other families follow under their own headings).
  const doc = whole.slice(0, whole.indexOf('\n## '));
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    assert.ok(
      doc.includes(`| \`${code}\` | ${info.status} | ${info.challenge ?? '—'} | ${info.message} |`),
      `docs/errors.md is missing or disagrees on ${code}`,
    );
  }
  const documented = [...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), Object.keys(ERROR_CODES).sort(), 'docs/errors.md lists a code that does not exist');
});

test('every denial code maps to a 4xx/5xx status and no code is an OAuth success', () => {
  for (const [code, info] of Object.entries(ERROR_CODES)) assert.ok(info.status >= 400 && info.status < 600, code);
});
