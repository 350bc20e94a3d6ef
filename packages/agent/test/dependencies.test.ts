/**
 * @writ/agent's promise to stay small and portable: two runtime dependencies and no Node built-in (its exports are
 * pinned with every package's, in test/exports.test.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

test('runtime dependencies are jose and @writ/protocol only, and no Node built-in is imported', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies?: Record<string, string> };
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}).sort(), ['@writ/protocol', 'jose']);
  const src = new URL('../src/', import.meta.url);
  for (const file of readdirSync(src).filter((f) => f.endsWith('.js'))) {
    const text = readFileSync(new URL(file, src), 'utf8');
    for (const [, spec] of text.matchAll(/\bfrom\s+'([^']+)'/g)) {
      assert.ok(spec === 'jose' || spec === '@writ/protocol' || spec?.startsWith('./'), `${file} imports ${spec}`);
    }
  }
});
