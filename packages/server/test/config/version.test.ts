/** The version Writ reports (`writ --version`, OCSF `metadata.product.version`) is its package's version. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { WRIT_VERSION } from '../../src/config/index.js';

test('WRIT_VERSION is the version in packages/server/package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(WRIT_VERSION, pkg.version);
});
