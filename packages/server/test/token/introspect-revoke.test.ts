/**
 * RFC 7662 introspection and RFC 7009 revocation of task tokens, over HTTP, on every store: client authentication
 * required, `active: false` and nothing else for anything not active or not the caller's, revocation in force at the
 * gateway at once.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClientAssertion } from '@writ/agent';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, type AuthorizationDetail } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }];

describeEachStore('introspection and revocation', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  let other: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
    other = await h.registerAgent('agent-o');
  });

  async function post(
    path: '/oauth2/introspect' | '/oauth2/revoke',
    as: TestAgent | null,
    fields: Record<string, string>,
  ): Promise<{ status: number; body: string }> {
    const form = new URLSearchParams(fields);
    if (as !== null) {
      form.set('client_assertion_type', CLIENT_ASSERTION_TYPE_JWT_BEARER);
      form.set(
        'client_assertion',
        await createClientAssertion({
          clientId: as.id,
          audience: `${h.writ.publicUrl}${path}`,
          key: as.clientKey,
          kid: as.publicJwk.kid,
        }),
      );
    }
    const res = await fetch(`${h.writ.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    return { status: res.status, body: await res.text() };
  }

  test("introspection: the token's own agent sees its claims; anyone else, anything invalid: active false", async () => {
    const task = await h.startTask(agent, { details: READ });
    const own = await post('/oauth2/introspect', agent, { token: task.token, token_type_hint: 'access_token' });
    assert.equal(own.status, 200);
    const claims = JSON.parse(own.body) as Record<string, unknown>;
    assert.equal(claims['active'], true);
    assert.equal(claims['token_type'], 'DPoP');
    assert.equal(claims['client_id'], 'agent-a');
    assert.equal(claims['task_id'], task.id);
    assert.deepEqual(claims['cnf'], { jkt: agent.dpopKey.jkt });
    for (const [who, token] of [
      [other, task.token],
      [agent, 'not-a-token'],
      [agent, `${task.token.slice(0, -3)}AAA`],
    ] as const) {
      const r = await post('/oauth2/introspect', who, { token });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { active: false });
    }
    assert.equal((await post('/oauth2/introspect', null, { token: task.token })).status, 401, 'client authentication is required');
    await task.complete();
    assert.deepEqual(
      JSON.parse((await post('/oauth2/introspect', agent, { token: task.token })).body),
      { active: false },
      "a completed task's token is inactive",
    );
  });

  test('revocation: only by its own client, 200 regardless, and refused at the gateway at once', async () => {
    const task = await h.startTask(agent, { details: READ });
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    assert.equal((await post('/oauth2/revoke', other, { token: task.token })).status, 200, 'another client: 200, nothing happens');
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    assert.equal((await post('/oauth2/revoke', agent, { token: 'garbage' })).status, 200);
    const bad = await post('/oauth2/revoke', agent, { token: task.token, token_type_hint: 'saml' });
    assert.equal(bad.status, 400);
    assert.equal((JSON.parse(bad.body) as { error: string }).error, 'unsupported_token_type');
    assert.equal((await post('/oauth2/revoke', null, { token: task.token })).status, 401);
    assert.equal((await post('/oauth2/revoke', agent, { token: task.token })).status, 200);
    const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'ERR_REVOKED_TOKEN');
    const meta = (await (await fetch(`${h.writ.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(meta['introspection_endpoint'], `${h.writ.publicUrl}/oauth2/introspect`);
    assert.equal(meta['revocation_endpoint'], `${h.writ.publicUrl}/oauth2/revoke`);
  });
});
