/** `console.enabled: false`: no console routes, no links, and the admin API takes admin tokens only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STORE_KINDS } from '../helpers/stores.js';
import { startHarness } from '../helpers/writ-harness.js';

test('with the console off, nothing of it is served and the admin API knows no sessions', async () => {
  const sqlite = STORE_KINDS.find((k) => k.name === 'sqlite');
  if (sqlite === undefined) throw new Error('no sqlite store kind');
  const h = await startHarness(sqlite, { config: { 'console.enabled': false } });
  try {
    for (const path of ['/console/', '/console/session', '/console/login', '/console/events'])
      assert.equal((await fetch(`${h.writ.publicUrl}${path}`)).status, 404, path);
    const link = await fetch(`${h.writ.publicUrl}/admin/v1/console/links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    assert.equal(link.status, 404);
    const withCookie = await fetch(`${h.writ.publicUrl}/admin/v1/agents`, { headers: { cookie: `writ_console=${'A'.repeat(43)}` } });
    assert.equal(withCookie.status, 401);
  } finally {
    await h.close();
  }
});
