/**
 * `oauth_client_credentials` end to end, on every store, against a real authorization server (`oidc-provider`) and
 * an API that accepts only its tokens: Writ mints the upstream token, reuses it until shortly before it expires, asks
 * for one token at a time under load, replaces it once when the upstream refuses it, and neither the token nor the
 * client secret ever reaches the agent or an admin answer.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch } from '@writ/agent';
import type { AuthorizationDetail } from '@writ/protocol';
import { startUpstreamAuthorizationServer, type UpstreamAuthorizationServer } from '@writ/dev';
import { describeEachStore } from '../helpers/stores.js';
import { registerBearerResource, useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { postInitialize } from '../helpers/mcp-raw.js';
import { startMcpTestUpstream } from '../helpers/mcp-test-upstream.js';

const CLIENT = { id: 'writ-upstream-client', secret: 'cc-client-secret-value-0123456789' };
const DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET', 'POST'], paths: ['/whoami'] }];

interface AuditRow {
  type: string;
  reason?: string;
  detail?: string;
  data?: Record<string, unknown>;
}

describeEachStore('client credentials', (kind) => {
  // The burst below is 20 calls of one task at once: the per-task and per-agent upstream shares must admit them.
  const h = useHarness(kind, { config: { 'limits.upstreamConnectionsPerTask': 64, 'limits.upstreamConnectionsPerAgent': 64 } });
  let agent: TestAgent;
  let as: UpstreamAuthorizationServer;
  let jwtKey: Record<string, unknown>;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    jwtKey = { ...(await exportJWK(privateKey)), kid: 'writ-1' };
    as = await startUpstreamAuthorizationServer({
      clients: [
        { client_id: CLIENT.id, client_secret: CLIENT.secret, scope: 'read:projects write:projects' },
        {
          client_id: 'writ-jwt-client',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'writ-1' }] },
          scope: 'read:projects',
        },
      ],
    });
    agent = await h.registerAgent('agent-a');
    await putUpstreamCc();
    await registerBearerResource(h, 'cc', as.apiUrl, 'upstream-cc');
  });
  after(() => as.close());

  /** The secret of resource `cc` (a new version each time). */
  async function putUpstreamCc(): Promise<void> {
    await h.admin.put('/secrets/upstream-cc', {
      kind: 'oauth_client_credentials',
      tokenEndpoint: as.tokenEndpoint,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      scope: 'read:projects',
      description: 'minted',
    });
  }

  async function whoami(task: Awaited<ReturnType<typeof h.startTask>>, resource = 'cc', method = 'GET'): Promise<Response> {
    return task.fetch(`${h.resourceUri(resource)}/whoami`, method === 'GET' ? {} : { method, body: '{}' });
  }

  test('the upstream sees a token its authorization server minted for Writ; the agent sees neither it nor the client secret', async () => {
    const task = await h.startTask(agent, { resource: 'cc', details: DETAILS });
    const before = as.tokenRequests.total;
    const res = await whoami(task);
    if (res.status !== 200) {
      await h.writ.flushAudit();
      assert.fail(JSON.stringify((await h.admin.get<AuditRow[]>('/audit?limit=1000')).at(-1)));
    }
    const body = (await res.json()) as { client_id: string; scope: string; echo: string };
    assert.equal(body.client_id, CLIENT.id);
    assert.equal(body.scope, 'read:projects');
    const seen = as.apiRequests.at(-1)?.token;
    assert.ok(seen !== undefined && seen.length > 10);
    assert.match(body.echo, /^Bearer \[writ:scrubbed\]/, 'the echoed token is scrubbed');
    assert.match(res.headers.get('x-echo-authorization') ?? '', /^Bearer \[writ:scrubbed\]/);
    assert.equal(as.tokenRequests.total, before + 1);
    const meta = await h.admin.get<Record<string, unknown>>('/secrets/upstream-cc');
    assert.equal(meta['kind'], 'oauth_client_credentials');
    assert.deepEqual((meta['config'] as Record<string, unknown>)['clientId'], CLIENT.id);
    const everything = JSON.stringify([meta, await h.admin.get('/secrets'), await h.admin.get('/audit?limit=1000')]);
    assert.ok(!everything.includes(CLIENT.secret), 'the client secret is never returned');
    assert.ok(!everything.includes(seen), 'the minted token is in no admin answer or audit record');
  });

  test('a minted token is reused; a burst of calls after the secret changed causes one token request', async () => {
    const task = await h.startTask(agent, { resource: 'cc', details: DETAILS });
    await whoami(task);
    const start = as.tokenRequests.total;
    for (let i = 0; i < 5; i++) assert.equal((await whoami(task)).status, 200);
    assert.equal(as.tokenRequests.total, start, 'reused');
    // A new version of the secret: its first 20 calls at once wait for the same token request.
    await putUpstreamCc();
    const answers = await Promise.all(Array.from({ length: 20 }, () => whoami(task)));
    assert.deepEqual(
      answers.map((r) => r.status),
      answers.map(() => 200),
    );
    assert.equal(as.tokenRequests.total, start + 1, 'one token request for the burst');
    assert.equal(new Set(as.apiRequests.slice(-20).map((r) => r.token)).size, 1);
  });

  test('a token the upstream refuses (revoked at its authorization server) is replaced once and the call retried', async () => {
    const task = await h.startTask(agent, { resource: 'cc', details: DETAILS });
    assert.equal((await whoami(task)).status, 200);
    const old = as.apiRequests.at(-1)?.token ?? '';
    await as.revoke(old, CLIENT);
    const start = as.tokenRequests.total;
    const res = await whoami(task);
    assert.equal(res.status, 200, 'retried with a fresh token');
    assert.equal(as.tokenRequests.total, start + 1);
    const [refused, retried] = as.apiRequests.slice(-2);
    assert.equal(refused?.token, old);
    assert.notEqual(retried?.token, old);
    await h.writ.flushAudit();
    const audit = await h.admin.get<AuditRow[]>('/audit?limit=1000');
    const outcome = audit.filter((e) => e.type === 'call.outcome').at(-1);
    assert.equal(outcome?.data?.['status'], 200);
    assert.equal(outcome?.data?.['credential_refreshed'], true);
    // A call with a body is not sent twice: the 401 goes to the agent, and the next call mints.
    await as.revoke(retried?.token ?? '', CLIENT);
    const post = await whoami(task, 'cc', 'POST');
    assert.equal(post.status, 401);
    assert.equal((await whoami(task)).status, 200);
  });

  test('private_key_jwt: Writ signs the client assertion with the sealed key', async () => {
    await h.admin.put('/secrets/upstream-jwt', {
      kind: 'oauth_client_credentials',
      tokenEndpoint: as.tokenEndpoint,
      clientId: 'writ-jwt-client',
      authMethod: 'private_key_jwt',
      privateKeyJwk: jwtKey,
      scope: 'read:projects',
    });
    await registerBearerResource(h, 'cc-jwt', as.apiUrl, 'upstream-jwt');
    const task = await h.startTask(agent, { resource: 'cc-jwt', details: DETAILS });
    const res = await whoami(task, 'cc-jwt');
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { client_id: string }).client_id, 'writ-jwt-client');
    const meta = JSON.stringify(await h.admin.get('/secrets/upstream-jwt'));
    assert.ok(!meta.includes(String(jwtKey['d'])), 'the private key is never returned');
  });

  test('an authorization server that refuses: 502 ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE, nothing reaches the upstream', async () => {
    await h.admin.put('/secrets/upstream-bad', {
      kind: 'oauth_client_credentials',
      tokenEndpoint: as.tokenEndpoint,
      clientId: CLIENT.id,
      clientSecret: 'not-the-secret-0123456789',
    });
    await registerBearerResource(h, 'cc-bad', as.apiUrl, 'upstream-bad');
    const task = await h.startTask(agent, { resource: 'cc-bad', details: DETAILS });
    const upstreamBefore = as.apiRequests.length;
    const res = await whoami(task, 'cc-bad');
    assert.equal(res.status, 502);
    const body = await res.text();
    assert.equal((JSON.parse(body) as { code: string }).code, 'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE');
    assert.ok(!body.includes('not-the-secret'));
    assert.equal(as.apiRequests.length, upstreamBefore);
    await h.writ.flushAudit();
    const last = (await h.admin.get<AuditRow[]>('/audit?limit=1000')).at(-1);
    assert.equal(last?.reason, 'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE');
    assert.match(last?.detail ?? '', /invalid_client/);
    assert.ok(!JSON.stringify(last).includes('not-the-secret'));
  });

  test('through the MCP gateway: the upstream gets the minted token, replaced once when refused; a failed mint fails the session with its code', async () => {
    // An MCP upstream that accepts only tokens its authorization server says are active.
    const mcp = await startMcpTestUpstream({
      authorize: async (headers) => {
        const token = /^Bearer (.+)$/.exec(String(headers.authorization ?? ''))?.[1];
        return token !== undefined && (await as.introspect(token))['active'] === true;
      },
    });
    try {
      for (const [id, secretId] of [
        ['cc-mcp', 'upstream-cc'],
        ['cc-mcp-bad', 'upstream-bad'],
      ] as const) {
        await h.admin.post('/resources', { id, kind: 'mcp', baseUrl: mcp.url, secretId, inject: { mode: 'bearer' } });
        await h.admin.post('/grants', {
          id,
          policy: `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"${id}");`,
        });
      }
      const details: AuthorizationDetail[] = [{ type: 'mcp', tools: ['echo'] }];
      const task = await h.startTask(agent, { resourceUri: h.mcpUri('cc-mcp'), details });
      const client = new Client({ name: 'cc-test', version: '1.0.0' });
      const url = h.mcpUri('cc-mcp');
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
      assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: 'hi' } })).content, [
        { type: 'text', text: 'echo: hi' },
      ]);
      const sent = mcp.requests.at(-1)?.headers.authorization ?? '';
      assert.match(sent, /^Bearer .{20,}$/);
      // The authorization server revokes that token: the next message is refused (401), Writ mints once, sends again.
      await as.revoke(sent.slice('Bearer '.length), CLIENT);
      const before = as.tokenRequests.total;
      assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: 'again' } })).content, [
        { type: 'text', text: 'echo: again' },
      ]);
      assert.equal(as.tokenRequests.total, before + 1);
      assert.notEqual(mcp.requests.at(-1)?.headers.authorization, sent);
      await client.close();
      const bad = await h.startTask(agent, { resourceUri: h.mcpUri('cc-mcp-bad'), details });
      const init = await postInitialize(bad, h.mcpUri('cc-mcp-bad'));
      // A JSON-RPC error, as for any initialize the upstream could not take, naming the code.
      const answer = (await init.json()) as { error: { message: string; data: { code: string } } };
      assert.equal(answer.error.data.code, 'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE');
      assert.equal(answer.error.message, "the upstream's credential could not be obtained");
      assert.ok(!JSON.stringify(answer).includes('not-the-secret'));
    } finally {
      await mcp.close();
    }
  });

  test('the admin API refuses a client-credentials secret that is incomplete or mixes methods, and stores nothing', async () => {
    for (const bad of [
      { kind: 'oauth_client_credentials', tokenEndpoint: as.tokenEndpoint, clientId: 'x' },
      { kind: 'oauth_client_credentials', tokenEndpoint: as.tokenEndpoint, clientId: 'x', clientSecret: 's', privateKeyJwk: jwtKey },
      { kind: 'oauth_client_credentials', tokenEndpoint: 'ftp://example.test/token', clientId: 'x', clientSecret: 's' },
      { kind: 'oauth_client_credentials', tokenEndpoint: as.tokenEndpoint, clientId: 'x', clientSecret: 's', scope: 'bad"scope' },
      { kind: 'nonsense', value: 'v' },
    ]) {
      const res = await fetch(`${h.writ.url}/admin/v1/secrets/refused`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(bad),
      });
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
    const list = await h.admin.get<{ id: string }[]>('/secrets');
    assert.ok(!list.some((s) => s.id === 'refused'));
  });
});
