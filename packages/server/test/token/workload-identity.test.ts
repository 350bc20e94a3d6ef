/**
 * Who the agent is, with no shared secret: workload-identity tokens as RFC 8693 `actor_token`, from trusted workload
 * issuers over real HTTP (discovery + JWKS on loopback, as a Kubernetes API server or a CI system serves them, and a
 * static SPIFFE bundle), mapped to registered agents by issuer and subject pattern. Every refusal is an RFC error
 * and leaves nothing issued.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createClientAssertion, createDpopProof, generateDpopKey, WritAgent } from '@writ/agent';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, TOKEN_TYPE, type AuthorizationDetail } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';
import { startWorkloadIssuer, type WorkloadIssuer } from '../helpers/workload-issuer.js';
import { postTokenRequest } from '../helpers/token-request.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*'] }];

const GRANT = `permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"api")
when { principal.owner == "team-test" && context.user == Writ::User::"dev:alice" && context.method == "GET" && context.path like "/v1/*" };`;

const K8S_SA = 'system:serviceaccount:agents:report-bot';

describeEachStore('workload identity', (kind) => {
  const h = useHarness(kind, { grant: GRANT });
  let k8s: WorkloadIssuer;
  let ci: WorkloadIssuer;
  let spiffe: WorkloadIssuer;
  let audience: string;

  before(async () => {
    audience = h.writ.publicUrl;
    k8s = await startWorkloadIssuer();
    ci = await startWorkloadIssuer();
    spiffe = await startWorkloadIssuer();
    await h.admin.post('/workload-issuers', { id: 'cluster', kind: 'kubernetes', issuer: k8s.issuer, discovery: true, audience });
    await h.admin.post('/workload-issuers', { id: 'ci', kind: 'oidc', issuer: ci.issuer, jwksUri: ci.jwksUri, audience });
    await h.admin.post('/workload-issuers', { id: 'mesh', kind: 'spiffe', issuer: spiffe.issuer, jwks: spiffe.jwks(), audience });
    const agent = (id: string, workload: { issuer: string; subject: string }[]) =>
      h.admin.post('/agents', { id, name: id, owner: 'team-test', kind: 'workload', workload });
    await agent('report-bot', [{ issuer: 'cluster', subject: K8S_SA }]);
    await agent('ns-bots', [{ issuer: 'cluster', subject: 'system:serviceaccount:bots:*' }]);
    await agent('deployer', [{ issuer: 'ci', subject: 'repo:acme/*:ref:refs/heads/main' }]);
    await agent('mesh-svc', [{ issuer: 'mesh', subject: 'spiffe://acme.test/ns/prod/sa/*' }]);
    await agent('twin-a', [{ issuer: 'ci', subject: 'repo:acme/shared:ref:refs/heads/dev' }]);
    await agent('twin-b', [{ issuer: 'ci', subject: 'repo:acme/shared:ref:refs/heads/dev' }]);
  });
  after(async () => {
    await k8s?.close();
    await ci?.close();
    await spiffe?.close();
  });

  const endpoint = (): string => `${h.writ.publicUrl}/oauth2/token`;

  async function exchange(actorToken: string, fields: Record<string, string | undefined> = {}) {
    const key = await generateDpopKey();
    return postTokenRequest(
      endpoint(),
      {
        subject_token: await h.userToken('alice'),
        subject_token_type: TOKEN_TYPE.idToken,
        actor_token: actorToken,
        actor_token_type: TOKEN_TYPE.jwt,
        resource: h.resourceUri('api'),
        authorization_details: JSON.stringify(READ),
        purpose: 'nightly report',
        ...fields,
      },
      await createDpopProof(key, { htm: 'POST', htu: endpoint() }),
    );
  }

  async function refusal(actorToken: string, fields: Record<string, string | undefined> = {}): Promise<string> {
    const r = await exchange(actorToken, fields);
    assert.equal(r.status === 400 || r.status === 401, true, JSON.stringify(r.body));
    assert.equal(r.body['access_token'], undefined);
    return r.body['error'] as string;
  }

  test('a Kubernetes service-account token (discovery + JWKS) is the agent: the SDK gets a task and calls through the gateway', async () => {
    const sdk = new WritAgent({
      issuer: h.writ.publicUrl,
      agentId: 'report-bot',
      workloadToken: () => k8s.token({ sub: K8S_SA, aud: [audience], 'kubernetes.io': { namespace: 'agents' } }),
    });
    const task = await sdk.startTask({
      subjectToken: await h.userToken('alice'),
      subjectTokenType: TOKEN_TYPE.idToken,
      resource: h.resourceUri('api'),
      authorizationDetails: READ,
      purpose: 'nightly report',
    });
    const { payload } = await jwtVerify(task.token, createRemoteJWKSet(new URL(`${h.writ.url}/.well-known/jwks.json`)), {
      issuer: h.writ.publicUrl,
      audience: h.resourceUri('api'),
      typ: 'at+jwt',
      currentDate: new Date(h.clock.now()),
    });
    assert.equal(payload['client_id'], 'report-bot');
    assert.deepEqual(payload['act'], { sub: 'report-bot' });
    const res = await task.fetch(`${h.resourceUri('api')}/v1/projects/1`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await h.writ.flushAudit();
    const events = await h.admin.get<{ data: Record<string, unknown> }[]>('/audit?type=token.issued&agent=report-bot');
    const issued = events.at(-1);
    assert.equal(issued?.data['authentication'], 'workload_identity');
    assert.deepEqual(issued?.data['workload'], { issuer: 'cluster', sub: K8S_SA });
  });

  test('a pattern binds within one segment: another namespace or a nested name is refused', async () => {
    assert.equal((await exchange(await k8s.token({ sub: 'system:serviceaccount:bots:crawler', aud: audience }))).status, 200);
    assert.equal(await refusal(await k8s.token({ sub: 'system:serviceaccount:other:crawler', aud: audience })), 'invalid_request');
    // '*' never spans ':' — a service account name cannot smuggle a namespace.
    assert.equal(await refusal(await k8s.token({ sub: 'system:serviceaccount:bots:x:y', aud: audience })), 'invalid_request');
    // CI subjects: '*' stays within the repository name, never across '/' or ':'.
    assert.equal((await exchange(await ci.token({ sub: 'repo:acme/site:ref:refs/heads/main', aud: audience }))).status, 200);
    assert.equal(await refusal(await ci.token({ sub: 'repo:acme/site:ref:refs/heads/feature', aud: audience })), 'invalid_request');
    assert.equal(await refusal(await ci.token({ sub: 'repo:acme/a/b:ref:refs/heads/main', aud: audience })), 'invalid_request');
  });

  test('a SPIFFE JWT-SVID verified against a static trust bundle; a non-SPIFFE subject from the SPIFFE issuer is refused', async () => {
    assert.equal((await exchange(await spiffe.token({ sub: 'spiffe://acme.test/ns/prod/sa/api', aud: audience }))).status, 200);
    assert.equal(await refusal(await spiffe.token({ sub: 'spiffe://acme.test/ns/dev/sa/api', aud: audience })), 'invalid_request');
    assert.equal(await refusal(await spiffe.token({ sub: 'ns/prod/sa/api', aud: audience })), 'invalid_request');
  });

  test('attacks: untrusted issuer, foreign key, wrong audience, expired, no exp, future iat, wrong token type', async () => {
    const stranger = await startWorkloadIssuer();
    try {
      assert.equal(await refusal(await stranger.token({ sub: K8S_SA, aud: audience })), 'invalid_request');
    } finally {
      await stranger.close();
    }
    // Claims to be the cluster, signed by someone else's key.
    assert.equal(await refusal(await k8s.token({ sub: K8S_SA, aud: audience }, { key: 'foreign' })), 'invalid_request');
    assert.equal(await refusal(await k8s.token({ sub: K8S_SA, aud: 'https://kubernetes.default.svc' })), 'invalid_request');
    const t = Math.floor(Date.now() / 1000);
    assert.equal(await refusal(await k8s.token({ sub: K8S_SA, aud: audience, iat: t - 900, exp: t - 300 })), 'invalid_request');
    // A legacy service-account token never expires: refused.
    assert.equal(await refusal(await k8s.token({ sub: K8S_SA, aud: audience, exp: null })), 'invalid_request');
    assert.equal(await refusal(await k8s.token({ sub: K8S_SA, aud: audience, iat: t + 3600, exp: t + 7200 })), 'invalid_request');
    assert.equal(
      await refusal(await k8s.token({ sub: K8S_SA, aud: audience }), { actor_token_type: TOKEN_TYPE.accessToken }),
      'invalid_request',
    );
    // The token must name a subject fit to be an identity.
    assert.equal(await refusal(await k8s.token({ sub: 'system:serviceaccount:agents:report-bot\n', aud: audience })), 'invalid_request');
    assert.equal(await refusal('not-a-jwt'), 'invalid_request');
  });

  test('overlapping bindings need client_id; client_id of an agent not bound to the token is refused', async () => {
    const token = () => ci.token({ sub: 'repo:acme/shared:ref:refs/heads/dev', aud: audience });
    assert.equal(await refusal(await token()), 'invalid_request');
    assert.equal((await exchange(await token(), { client_id: 'twin-b' })).status, 200);
    assert.equal(await refusal(await token(), { client_id: 'deployer' }), 'invalid_request');
  });

  test('a suspended agent gets nothing, and an agent is active again when reactivated', async () => {
    const token = () => k8s.token({ sub: K8S_SA, aud: audience });
    await h.admin.post('/agents/report-bot/status', { status: 'suspended', reason: 'test' });
    try {
      assert.equal(await refusal(await token()), 'invalid_client');
    } finally {
      await h.admin.post('/agents/report-bot/status', { status: 'active' });
    }
    assert.equal((await exchange(await token())).status, 200);
  });

  test('client_assertion and actor_token together are refused; a deleted issuer vouches for no one', async () => {
    const agent = await h.registerAgent('keyed');
    const assertion = await createClientAssertion({ clientId: agent.id, audience: endpoint(), key: agent.clientKey });
    assert.equal(
      await refusal(await k8s.token({ sub: K8S_SA, aud: audience }), {
        client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
        client_assertion: assertion,
      }),
      'invalid_request',
    );
    await h.admin.post('/workload-issuers', { id: 'temp', kind: 'oidc', issuer: `${ci.issuer}/temp`, jwksUri: ci.jwksUri, audience });
    await h.admin.delete('/workload-issuers/temp');
    assert.equal(await refusal(await ci.token({ iss: `${ci.issuer}/temp`, sub: 'x', aud: audience })), 'invalid_request');
  });

  test('the register refuses bad bindings and issuers', async () => {
    const bad = async (path: string, body: unknown): Promise<number> => {
      try {
        await h.admin.post(path, body);
        return 200;
      } catch (err) {
        return (err as { status: number }).status;
      }
    };
    assert.equal(await bad('/agents', { id: 'x1', name: 'x', owner: 'o', workload: [{ issuer: 'nope', subject: 'a' }] }), 404);
    assert.equal(await bad('/agents', { id: 'x2', name: 'x', owner: 'o', workload: [{ issuer: 'cluster', subject: 'system:**' }] }), 400);
    assert.equal(await bad('/agents', { id: 'x3', name: 'x', owner: 'o' }), 400);
    assert.equal(await bad('/workload-issuers', { id: 'w', kind: 'oidc', issuer: k8s.issuer, audience }), 400);
    assert.equal(
      await bad('/workload-issuers', { id: 'w', kind: 'oidc', issuer: 'http://x.test', discovery: true, jwksUri: k8s.jwksUri, audience }),
      400,
    );
  });
});
