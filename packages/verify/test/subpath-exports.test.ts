/**
 * Each framework adapter's subpath is deliberate, and loads through the package's `exports` map without the
 * framework it adapts (they are optional peers: an adapter imports only their types).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

const SUBPATHS: Record<string, string[]> = {
  '@writ/verify/fastify': ['writFastify'],
  '@writ/verify/express': ['writExpress'],
  '@writ/verify/hono': ['writHono'],
};

for (const [specifier, keys] of Object.entries(SUBPATHS)) {
  test(`${specifier} exports exactly its public API`, async () => {
    const mod = (await import(specifier)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(mod).sort(), keys);
    for (const k of keys) assert.equal(typeof mod[k], 'function');
  });
}

test('the main entry reaches the verifier through the exports map too', async () => {
  const spec = '@writ/verify';
  const mod = (await import(spec)) as Record<string, unknown>;
  assert.equal(typeof mod['createWritVerifier'], 'function');
  assert.equal(typeof mod['denialResponse'], 'function');
});
