/**
 * The OAuth endpoints (token, introspection, revocation) have one implementation each, on raw node:http: whatever a
 * request looks like, it is answered in OAuth's shape (RFC 6749 §5.2), never in another family's, never with a 5xx
 * for a client's mistake, and a refused token request leaves an audit record. Issuance works with the content-type
 * parameters and transfer codings real clients send.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClientAssertion, createDpopProof } from '@writ/agent';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, GRANT_TYPE_TOKEN_EXCHANGE, PATHS, TOKEN_TYPE } from '@writ/protocol';
import { rawRequest } from '../helpers/raw-request.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

describeEachStore('OAuth endpoints on raw node:http', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
  });

  const endpoint = (): string => `${h.writ.publicUrl}${PATHS.token}`;
  async function form(): Promise<string> {
    const p = new URLSearchParams({
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: await h.userToken('alice'),
      subject_token_type: TOKEN_TYPE.idToken,
      resource: h.resourceUri('api'),
      authorization_details: JSON.stringify([{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*'] }]),
      client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
      client_assertion: await createClientAssertion({
        clientId: agent.id,
        audience: endpoint(),
        key: agent.clientKey,
        kid: agent.publicJwk.kid,
      }),
    });
    return p.toString();
  }
  const proof = async (): Promise<string> => createDpopProof(agent.dpopKey, { htm: 'POST', htu: endpoint() });
  const deniedCount = async (): Promise<number> => {
    await h.writ.flushAudit();
    return (await h.admin.get<unknown[]>(`/audit?type=token.denied&limit=1000`)).length;
  };

  for (const [name, contentType, chunked] of [
    ['a plain form', 'application/x-www-form-urlencoded', false],
    ['a form with a charset parameter', 'application/x-www-form-urlencoded; charset=UTF-8', false],
    ['a chunked form', 'application/x-www-form-urlencoded', true],
  ] as const) {
    test(`issues for ${name}, with OAuth's cache headers`, async () => {
      const body = Buffer.from(await form());
      const res = await rawRequest(h.writ.url, {
        method: 'POST',
        path: PATHS.token,
        headers: [
          ['content-type', contentType],
          ['dpop', await proof()],
          ...(chunked ? [] : ([['content-length', String(body.length)]] as Array<[string, string]>)),
        ],
        ...(chunked ? { chunks: [body.subarray(0, 10), body.subarray(10)] } : { body }),
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['pragma'], 'no-cache');
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal((res.json() as { token_type: string }).token_type, 'DPoP');
    });
  }

  test('a body that is not a form: 400 invalid_request in OAuth shape, and audited as token.denied', async () => {
    const before = await deniedCount();
    for (const path of [PATHS.token, PATHS.introspect, PATHS.revoke]) {
      const res = await rawRequest(h.writ.url, {
        method: 'POST',
        path,
        headers: [
          ['content-type', 'application/json'],
          ['content-length', '2'],
        ],
        body: '{}',
      });
      assert.equal(res.status, 400, path);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.deepEqual(Object.keys(res.json() as object).sort(), ['error', 'error_description'], path);
      assert.equal((res.json() as { error: string }).error, 'invalid_request', path);
    }
    assert.equal(await deniedCount(), before + 1, 'the token endpoint audits its refusal');
  });

  test('a body over the limit: 400 invalid_request, declared or streamed, and nothing issued', async () => {
    const big = Buffer.alloc(70 * 1024, 'a');
    const declared = await rawRequest(h.writ.url, {
      method: 'POST',
      path: PATHS.token,
      headers: [
        ['content-type', 'application/x-www-form-urlencoded'],
        ['content-length', String(big.length)],
      ],
      body: big,
    });
    const streamed = await rawRequest(h.writ.url, {
      method: 'POST',
      path: PATHS.introspect,
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      chunks: [big.subarray(0, 40 * 1024), big.subarray(40 * 1024)],
    });
    for (const res of [declared, streamed]) {
      assert.equal(res.status, 400, res.body);
      assert.equal((res.json() as { error: string }).error, 'invalid_request');
    }
  });

  test('another method: 405 with Allow: POST, in OAuth shape', async () => {
    for (const path of [PATHS.token, PATHS.introspect, PATHS.revoke]) {
      const res = await rawRequest(h.writ.url, { method: 'GET', path });
      assert.equal(res.status, 405, path);
      assert.equal(res.headers['allow'], 'POST');
      assert.equal((res.json() as { error: string }).error, 'invalid_request');
    }
  });

  test('a repeated client parameter is invalid_request at every endpoint (RFC 6749 §3.2)', async () => {
    for (const path of [PATHS.introspect, PATHS.revoke]) {
      const body = 'token=x&client_id=a&client_id=b';
      const res = await rawRequest(h.writ.url, {
        method: 'POST',
        path,
        headers: [
          ['content-type', 'application/x-www-form-urlencoded'],
          ['content-length', String(body.length)],
        ],
        body,
      });
      assert.equal(res.status, 400, path);
      assert.equal((res.json() as { error_description: string }).error_description, 'parameter client_id repeated');
    }
  });
});
