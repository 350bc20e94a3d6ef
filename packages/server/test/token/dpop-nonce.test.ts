/**
 * DPoP server nonces (RFC 9449 §8, §9) with `dpop.requireNonce`: the SDK answers the challenge and everything works;
 * a proof without a nonce, or with a stale or forged one, is refused with `use_dpop_nonce` and a fresh `DPoP-Nonce`.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClientAssertion, createDpopProof } from '@writ/agent';
import { createDpopNonces } from '@writ/verify/internal';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { rawRequest } from '../helpers/raw-request.js';

describeEachStore('DPoP nonces', (kind) => {
  const h = useHarness(kind, { config: { 'dpop.requireNonce': true } });
  let agent: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
  });

  test('the agent SDK answers nonce challenges at the token endpoint, the gateway and the agent API', async () => {
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] });
    const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`);
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('dpop-nonce'), 'answers carry the current nonce');
    await task.complete();
  });

  test('a proof without a nonce, or with a stale or forged one, gets use_dpop_nonce and a fresh nonce', async () => {
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] });
    const url = `${h.writ.publicUrl}/r/api/v1/projects`;
    const origin = new URL(h.writ.publicUrl).origin;
    const send = async (nonce?: string): Promise<Awaited<ReturnType<typeof rawRequest>>> =>
      rawRequest(origin, {
        method: 'GET',
        path: '/r/api/v1/projects',
        headers: [
          ['authorization', `DPoP ${task.token}`],
          [
            'dpop',
            await createDpopProof(agent.dpopKey, {
              htm: 'GET',
              htu: url,
              accessToken: task.token,
              ...(nonce !== undefined ? { nonce } : {}),
            }),
          ],
        ],
      });
    const missing = await send();
    assert.equal(missing.status, 401);
    assert.match(String(missing.headers['www-authenticate']), /error="use_dpop_nonce"/);
    const fresh = String(missing.headers['dpop-nonce']);
    assert.ok(fresh.length > 10);
    const forged = createDpopNonces({ key: Buffer.alloc(32, 7) }).current();
    assert.equal((await send(forged)).status, 401, 'a nonce made with another key');
    const stale = `${(Math.floor(h.clock.now() / 1000 / 60) - 5).toString(36)}.${fresh.split('.')[1] ?? ''}`;
    assert.equal((await send(stale)).status, 401, 'an old window');
    assert.equal((await send(fresh)).status, 200);
    // The token endpoint: a proof without a nonce is answered 400 use_dpop_nonce with the nonce to use.
    const endpoint = `${h.writ.publicUrl}/oauth2/token`;
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await h.userToken('alice'),
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      resource: h.resourceUri('api'),
      authorization_details: JSON.stringify([{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }]),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await createClientAssertion({
        clientId: agent.id,
        audience: endpoint,
        key: agent.clientKey,
        kid: agent.publicJwk.kid,
      }),
    });
    const tokenRes = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        dpop: await createDpopProof(agent.dpopKey, { htm: 'POST', htu: endpoint }),
      },
      body: form,
    });
    assert.equal(tokenRes.status, 400);
    assert.equal(((await tokenRes.json()) as { error: string }).error, 'use_dpop_nonce');
    assert.ok(tokenRes.headers.get('dpop-nonce'));
  });
});
