/**
 * The token service over real HTTP, on every store: RFC 8693 token exchange with private_key_jwt and DPoP, the
 * issued token checked independently with jose against the published JWKS, and each refusal with its RFC error.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, generateKeyPair } from 'jose';
import { createClientAssertion, createDpopProof } from '@writ/agent';
import { GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE, CLIENT_ASSERTION_TYPE_JWT_BEARER, type AuthorizationDetail } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { failInserts } from '../helpers/failing-inserts.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*'] }];

describeEachStore('token exchange', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
  });

  const endpoint = (): string => `${h.writ.publicUrl}/oauth2/token`;
  const freshAssertion = (a: TestAgent = agent): Promise<string> =>
    createClientAssertion({ clientId: a.id, audience: endpoint(), key: a.clientKey, kid: a.publicJwk.kid });

  async function post(
    fields: Record<string, string | undefined>,
    o: { proof?: string | null; assertion?: string | null } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const form = new URLSearchParams();
    const assertion =
      o.assertion === undefined
        ? await createClientAssertion({
            clientId: agent.id,
            audience: endpoint(),
            key: agent.clientKey,
            kid: agent.publicJwk.kid,
          })
        : o.assertion;
    const all: Record<string, string | undefined> = {
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: await h.userToken('alice'),
      subject_token_type: TOKEN_TYPE.idToken,
      resource: h.resourceUri('api'),
      authorization_details: JSON.stringify(READ),
      purpose: 'test',
      client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
      ...(assertion !== null ? { client_assertion: assertion } : {}),
      ...fields,
    };
    for (const [k, v] of Object.entries(all)) if (v !== undefined) form.append(k, v);
    const proof = o.proof === undefined ? await createDpopProof(agent.dpopKey, { htm: 'POST', htu: endpoint() }) : o.proof;
    const res = await fetch(endpoint(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(proof !== null ? { dpop: proof } : {}) },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  }

  test('issues a DPoP-bound RFC 9068 task token that verifies independently against the JWKS', async () => {
    const r = await post({});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.body['token_type'], 'DPoP');
    assert.equal(r.body['issued_token_type'], TOKEN_TYPE.accessToken);
    assert.ok((r.body['expires_in'] as number) <= 600 && (r.body['expires_in'] as number) > 590);
    const token = r.body['access_token'] as string;
    assert.equal(decodeProtectedHeader(token).typ, 'at+jwt');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${h.writ.url}/.well-known/jwks.json`)), {
      issuer: h.writ.publicUrl,
      audience: h.resourceUri('api'),
      typ: 'at+jwt',
      currentDate: new Date(h.clock.now()),
    });
    assert.equal(payload.sub, 'dev:alice');
    assert.equal(payload['client_id'], 'agent-a');
    assert.deepEqual(payload['act'], { sub: 'agent-a' });
    assert.deepEqual(payload['cnf'], { jkt: agent.dpopKey.jkt });
    assert.equal(payload['task_id'], r.body['task_id']);
    assert.deepEqual(payload['task_chain'], []);
    assert.deepEqual(payload['authorization_details'], [
      { type: 'http', locations: [h.resourceUri('api')], actions: ['GET'], paths: ['/v1/projects/*'] },
    ]);
    assert.deepEqual(r.body['authorization_details'], payload['authorization_details']);
    const meta = (await (await fetch(`${h.writ.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(meta['issuer'], h.writ.publicUrl);
    assert.ok((meta['grant_types_supported'] as string[]).includes(GRANT_TYPE_TOKEN_EXCHANGE));
    assert.ok((meta['dpop_signing_alg_values_supported'] as string[]).includes('ES256'));
    assert.deepEqual(meta['authorization_details_types_supported'], ['http', 'mcp', 'writ_budget']);
  });

  test('grants only what was both requested and granted', async () => {
    const r = await post({
      authorization_details: JSON.stringify([{ type: 'http', actions: ['GET', 'DELETE'], paths: ['/v1/projects/*', '/admin/*'] }]),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body['authorization_details'], [
      { type: 'http', locations: [h.resourceUri('api')], actions: ['GET'], paths: ['/v1/projects/*'] },
    ]);
    const none = await post({ authorization_details: JSON.stringify([{ type: 'http', actions: ['DELETE'], paths: ['/v1/projects/*'] }]) });
    assert.equal(none.status, 400);
    assert.equal(none.body['error'], 'invalid_authorization_details');
  });

  test('refusals carry the RFC error codes and issue nothing', async () => {
    const before = await h.admin.get<unknown[]>('/tasks?limit=1000');
    const cases: Array<[string, Promise<{ status: number; body: Record<string, unknown> }>, number, string]> = [
      ['no DPoP proof', post({}, { proof: null }), 400, 'invalid_dpop_proof'],
      [
        'proof for another URL',
        (async () => post({}, { proof: await createDpopProof(agent.dpopKey, { htm: 'POST', htu: `${h.writ.publicUrl}/other` }) }))(),
        400,
        'invalid_dpop_proof',
      ],
      ['no client authentication', post({}, { assertion: null }), 401, 'invalid_client'],
      ['wrong grant type', post({ grant_type: 'client_credentials' }), 400, 'unsupported_grant_type'],
      ['unknown resource', post({ resource: `${h.writ.publicUrl}/r/nope` }), 400, 'invalid_target'],
      ['resource with fragment', post({ resource: `${h.resourceUri('api')}#x` }), 400, 'invalid_target'],
      ['unknown detail type', post({ authorization_details: '[{"type":"payment"}]' }), 400, 'invalid_authorization_details'],
      ['malformed details', post({ authorization_details: '{"type":"http"}' }), 400, 'invalid_authorization_details'],
      [
        'path escaping',
        post({ authorization_details: JSON.stringify([{ type: 'http', actions: ['GET'], paths: ['/v1/../admin'] }]) }),
        400,
        'invalid_authorization_details',
      ],
      ['garbage subject token', post({ subject_token: 'not.a.jwt' }), 400, 'invalid_request'],
      ['unsupported subject token type', post({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 400, 'invalid_request'],
    ];
    for (const [name, p, status, error] of cases) {
      const r = await p;
      assert.equal(r.status, status, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body['error'], error, name);
      assert.equal(typeof r.body['error_description'], 'string', name);
    }
    const afterTasks = await h.admin.get<unknown[]>('/tasks?limit=1000');
    assert.equal(afterTasks.length, before.length, 'a refused request creates no task');
  });

  test('a user token from an untrusted issuer is refused', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('http://127.0.0.1:1/evil')
      .setAudience(h.idp.audience)
      .setExpirationTime('5m')
      .setIssuedAt()
      .sign(privateKey);
    const r = await post({ subject_token: forged });
    assert.equal(r.status, 400);
    assert.equal(r.body['error'], 'invalid_request');
  });

  test('a client assertion cannot be used twice', async () => {
    const assertion = await freshAssertion();
    assert.equal((await post({}, { assertion })).status, 200);
    const again = await post({}, { assertion });
    assert.equal(again.status, 401);
    assert.equal(again.body['error'], 'invalid_client');
  });

  test('an assertion is spent by a refused exchange too: after a bad proof, the same assertion is refused', async () => {
    const assertion = await freshAssertion();
    const bad = await post({}, { assertion, proof: null });
    assert.equal(bad.status, 400);
    assert.equal(bad.body['error'], 'invalid_dpop_proof');
    const again = await post({}, { assertion });
    assert.equal(again.status, 401);
    assert.equal(again.body['error'], 'invalid_client');
    assert.equal(again.body['error_description'], 'client assertion was already used');
  });

  test('an issuance whose token row fails writes no task either, and its assertion is spent', async () => {
    const db = h.store.db;
    const tasks = async (): Promise<number> =>
      Number(
        (
          await db
            .selectFrom('tasks')
            .select((e) => e.fn.countAll().as('n'))
            .executeTakeFirst()
        )?.n,
      );
    const before = await tasks();
    const restore = await failInserts(kind.name, db, 'tokens');
    const assertion = await freshAssertion();
    try {
      const failed = await post({}, { assertion });
      assert.equal(failed.status, 500, JSON.stringify(failed.body));
      assert.equal(failed.body['error'], 'server_error');
    } finally {
      await restore();
    }
    assert.equal(await tasks(), before, 'the task row went with the token row');
    const again = await post({}, { assertion });
    assert.equal(again.body['error_description'], 'client assertion was already used');
    assert.equal((await post({})).status, 200);
  });

  test('concurrent exchanges with one assertion: exactly one is issued, every other one is refused as a replay', async () => {
    const assertion = await freshAssertion();
    const results = await Promise.all(Array.from({ length: 8 }, () => post({}, { assertion })));
    assert.equal(results.filter((r) => r.status === 200).length, 1, JSON.stringify(results.map((r) => [r.status, r.body['error']])));
    for (const r of results.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 401);
      assert.equal(r.body['error_description'], 'client assertion was already used');
    }
  });

  test('the assertion of an agent refused as inactive is spent too', async () => {
    const s = await h.registerAgent('agent-spent');
    await h.admin.post('/agents/agent-spent/status', { status: 'suspended', reason: 'test' });
    const assertion = await createClientAssertion({
      clientId: s.id,
      audience: endpoint(),
      key: s.clientKey,
      kid: s.publicJwk.kid,
    });
    const proof = (): Promise<string> => createDpopProof(s.dpopKey, { htm: 'POST', htu: endpoint() });
    const first = await post({ client_id: s.id }, { assertion, proof: await proof() });
    assert.equal(first.body['error_description'], 'client is not active');
    await h.admin.post('/agents/agent-spent/status', { status: 'active', reason: 'test' });
    const again = await post({ client_id: s.id }, { assertion, proof: await proof() });
    assert.equal(again.status, 401);
    assert.equal(again.body['error_description'], 'client assertion was already used');
  });

  test('a suspended agent gets nothing', async () => {
    const s = await h.registerAgent('agent-s');
    await h.admin.post('/agents/agent-s/status', { status: 'suspended', reason: 'test' });
    await assert.rejects(h.startTask(s, { details: READ }), /invalid_client/);
  });

  test('every issuance and refusal is in the audit log', async () => {
    const events = await h.admin.get<Array<{ type: string; reason: string }>>('/audit?type=token.denied&limit=1000');
    assert.ok(events.some((e) => e.reason === 'invalid_dpop_proof'));
    assert.ok(events.some((e) => e.reason === 'invalid_target'));
    const issued = await h.admin.get<Array<{ type: string }>>('/audit?type=token.issued&limit=1000');
    assert.ok(issued.length >= 1);
  });
});
