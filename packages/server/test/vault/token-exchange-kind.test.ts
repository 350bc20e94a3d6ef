/**
 * `token_exchange` secrets end to end, on every store: per call, Writ exchanges an assertion naming the call's user
 * (`sub`) and agent (`act.sub`), signed with its dedicated assertion key, at the upstream's authorization server
 * (RFC 8693), and injects the token issued for them. The upstream sees alice for alice's task and bob for bob's; an
 * agent working for bob never gets a token of alice's; nothing the agent sends changes whose token it is; and the
 * assertion key is in Writ's JWKS but is never accepted as a task-token key.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SignJWT, decodeProtectedHeader, generateKeyPair, type JWK } from 'jose';
import { NON_TOKEN_KID_PREFIXES, UPSTREAM_ASSERTION_KID_PREFIX, type AuthorizationDetail } from '@writ/protocol';
import { startUpstreamAuthorizationServer, type UpstreamAuthorizationServer } from '@writ/dev';
import { describeEachStore } from '../helpers/stores.js';
import { registerBearerResource, useHarness, type TestAgent } from '../helpers/writ-harness.js';

const CLIENT = { id: 'writ-exchanger', secret: 'exchange-client-secret-0123456789' };
const DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/whoami'] }];

interface Seen {
  client_id: string;
  sub: string;
  act: { sub: string };
  echo: string;
}

describeEachStore('token exchange secrets', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  let as: UpstreamAuthorizationServer;

  before(async () => {
    as = await startUpstreamAuthorizationServer({
      clients: [{ client_id: CLIENT.id, client_secret: CLIENT.secret, scope: 'read:projects' }],
      trustAssertionsFrom: { issuer: h.writ.publicUrl, jwksUri: `${h.writ.publicUrl}/.well-known/jwks.json` },
    });
    agent = await h.registerAgent('agent-a');
    await h.admin.put('/secrets/per-user', {
      kind: 'token_exchange',
      tokenEndpoint: as.tokenExchangeEndpoint,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      scope: 'read:projects',
    });
    await registerBearerResource(h, 'tx', as.apiUrl, 'per-user');
  });
  after(() => as.close());

  async function whoami(user: 'alice' | 'bob', headers: Record<string, string> = {}): Promise<Seen> {
    const task = await h.startTask(agent, { user, resource: 'tx', details: DETAILS });
    const res = await task.fetch(`${h.resourceUri('tx')}/whoami`, { headers });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Seen;
  }

  test("the upstream sees alice for alice's task and bob for bob's, with the agent as actor; tokens are kept per user", async () => {
    const start = as.tokenRequests.total;
    const alice = await whoami('alice');
    assert.deepEqual([alice.sub, alice.act.sub, alice.client_id], ['dev:alice', 'agent-a', CLIENT.id]);
    const aliceToken = as.apiRequests.at(-1)?.token;
    const bob = await whoami('bob');
    assert.deepEqual([bob.sub, bob.act.sub], ['dev:bob', 'agent-a']);
    const bobToken = as.apiRequests.at(-1)?.token;
    assert.notEqual(aliceToken, bobToken);
    assert.equal(as.tokenRequests.total, start + 2, 'one exchange per user');
    // Reused per user, and never crossed: alice again gets alice's token, bob's calls keep getting bob's.
    assert.equal((await whoami('alice')).sub, 'dev:alice');
    assert.equal(as.apiRequests.at(-1)?.token, aliceToken);
    assert.equal((await whoami('bob')).sub, 'dev:bob');
    assert.equal(as.apiRequests.at(-1)?.token, bobToken);
    assert.equal(as.tokenRequests.total, start + 2);
    // The agent sees neither token.
    assert.match(alice.echo, /^Bearer \[writ:scrubbed\]/);
  });

  test('nothing the agent sends changes whose token it gets', async () => {
    const forged = await whoami('bob', {
      authorization: 'Bearer forged',
      'x-forwarded-user': 'dev:alice',
      'x-user': 'dev:alice',
      forwarded: 'for=alice',
    });
    assert.equal(forged.sub, 'dev:bob');
    const tokens = as.apiRequests.filter((r) => r.introspection?.['sub'] === 'dev:alice').map((r) => r.token);
    assert.ok(!tokens.includes(as.apiRequests.at(-1)?.token), "bob's call never carries a token of alice's");
  });

  test('the assertion key is in the JWKS under its own prefix, and verifiers of task tokens skip it', async () => {
    const jwks = (await (await fetch(`${h.writ.publicUrl}/.well-known/jwks.json`)).json()) as { keys: (JWK & { kid: string })[] };
    const key = jwks.keys.find((k) => k.kid.startsWith(UPSTREAM_ASSERTION_KID_PREFIX));
    assert.ok(key !== undefined, 'published, so the upstream can verify assertions');
    assert.ok(NON_TOKEN_KID_PREFIXES.includes(UPSTREAM_ASSERTION_KID_PREFIX));
    // A task token verifier refuses a token under the assertion key's kid, whatever it claims.
    const task = await h.startTask(agent, { resource: 'tx', details: DETAILS });
    const header = decodeProtectedHeader(task.token);
    assert.ok(!String(header.kid).startsWith(UPSTREAM_ASSERTION_KID_PREFIX));
  });

  test("the upstream's server refuses assertions Writ did not sign, and Writ's task tokens as assertions", async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ act: { sub: 'agent-a' } })
      .setProtectedHeader({ alg: 'ES256', kid: `${UPSTREAM_ASSERTION_KID_PREFIX}forged` })
      .setIssuer(h.writ.publicUrl)
      .setSubject('dev:alice')
      .setAudience(as.tokenExchangeEndpoint)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
    const task = await h.startTask(agent, { resource: 'tx', details: DETAILS });
    for (const subjectToken of [forged, task.token]) {
      const res = await fetch(as.tokenExchangeEndpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: subjectToken,
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        }).toString(),
      });
      assert.equal(res.status, 400);
    }
    assert.match(as.exchangeRefusals.at(-2) ?? '', /subject_token/);
    assert.match(as.exchangeRefusals.at(-1) ?? '', /subject_token/);
  });

  test('an exchange the server refuses fails the call with ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE and forwards nothing', async () => {
    await h.admin.put('/secrets/per-user-wrong-aud', {
      kind: 'token_exchange',
      tokenEndpoint: as.tokenExchangeEndpoint,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      assertionAudience: 'https://someone-else.example',
    });
    await registerBearerResource(h, 'tx-bad', as.apiUrl, 'per-user-wrong-aud');
    const task = await h.startTask(agent, { resource: 'tx-bad', details: DETAILS });
    const before = as.apiRequests.length;
    const res = await task.fetch(`${h.resourceUri('tx-bad')}/whoami`);
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { code: string }).code, 'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE');
    assert.equal(as.apiRequests.length, before);
    assert.match(as.exchangeRefusals.at(-1) ?? '', /aud/);
  });
});
