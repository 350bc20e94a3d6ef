/** Rotating the signing key on command: new tokens use the new key, tokens signed before keep working, both are published. */
import assert from 'node:assert/strict';
import { NON_TOKEN_KID_PREFIXES } from '@writ/protocol';
import { before, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

describeEachStore('signing key rotation', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
  });

  test('no valid token fails during rotation', async () => {
    const details = [{ type: 'http' as const, actions: ['GET' as const], paths: ['/v1/*'] }];
    const before = await h.startTask(agent, { details });
    const oldKid = decodeProtectedHeader(before.token).kid;
    const rotated = await h.admin.post<{ kid: string; alg: string; keys: Array<{ kid: string; active: boolean }> }>('/keys/rotate', {
      alg: 'EdDSA',
    });
    assert.notEqual(rotated.kid, oldKid);
    assert.equal(rotated.alg, 'EdDSA');
    const jwks = (await (await fetch(`${h.writ.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    // Besides the token keys the JWKS holds the keys that sign no token (`set-…`, `audit-…`), which rotation does not touch.
    assert.deepEqual(
      new Set(jwks.keys.map((k) => k.kid).filter((kid) => !NON_TOKEN_KID_PREFIXES.some((p) => kid.startsWith(p)))),
      new Set([rotated.kid, oldKid]),
    );
    assert.equal((await before.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200, 'a token signed before the rotation still works');
    const after = await h.startTask(agent, { details });
    assert.equal(decodeProtectedHeader(after.token).kid, rotated.kid);
    assert.equal(decodeProtectedHeader(after.token).alg, 'EdDSA');
    assert.equal((await after.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    await h.restart();
    assert.equal(
      (await before.fetch(`${h.resourceUri('api')}/v1/projects`)).status,
      200,
      'the retired key is still published after a restart',
    );
    const events = await h.admin.get<Array<{ reason: string }>>('/audit?type=admin.change&limit=1000');
    assert.ok(events.some((e) => e.reason === 'signing_key.rotated'));
  });
});
