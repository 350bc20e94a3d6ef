/**
 * Input Writ cannot accept is refused with a clear 4xx in the family of the endpoint it reached, on both stores, and
 * changes nothing: a NUL character anywhere (PostgreSQL would refuse it with a 500, SQLite would store it), an id that
 * is no id, arguments nested past the canonicalisation limit. No answer and no audit record carries a stack trace or
 * a file path.
 */
import assert from 'node:assert/strict';
import { before, after, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch } from '@writ/agent';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, PATHS, TOKEN_TYPE } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { postAgentExchange, useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { postTokenRequest } from '../helpers/token-request.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';

const NUL = '\u0000';
/** What no answer or audit record may contain: a stack frame or a source path. */
const LEAK = /\n\s+at |\.js:\d+|\.ts:\d+|node:internal|\/work\/|packages\/server/;

describeEachStore('bad input', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  let upstream: McpTestUpstream;
  before(async () => {
    agent = await h.registerAgent('agent-a');
    upstream = await startMcpTestUpstream();
    await h.admin.post('/resources', { id: 'tools', kind: 'mcp', baseUrl: upstream.url });
    await h.admin.post('/grants', {
      id: 'tools',
      policy: `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools");`,
    });
  });
  after(async () => {
    await upstream?.close();
  });

  const tokenEndpoint = (): string => `${h.writ.publicUrl}${PATHS.token}`;
  const auditCount = async (): Promise<number> => {
    await h.writ.flushAudit();
    return (await h.admin.get<unknown[]>('/audit?limit=1000')).length;
  };
  async function adminRaw(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${h.writ.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${h.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, text: await res.text() };
  }

  test('token endpoint: a NUL in any parameter is invalid_request (400), without credentials too', async () => {
    for (const fields of [
      { subject_token: `abc${NUL}`, subject_token_type: TOKEN_TYPE.idToken },
      { subject_token: 'abc', subject_token_type: TOKEN_TYPE.idToken, purpose: `read${NUL}` },
      { subject_token: 'abc', subject_token_type: TOKEN_TYPE.idToken, [`x${NUL}`]: '1' },
      { subject_token: 'abc', subject_token_type: TOKEN_TYPE.idToken, client_id: `agent-a${NUL}` },
    ]) {
      const r = await postTokenRequest(tokenEndpoint(), fields, null);
      assert.equal(r.status, 400, JSON.stringify(fields));
      assert.equal(r.body['error'], 'invalid_request');
      assert.doesNotMatch(JSON.stringify(r.body), LEAK);
    }
  });

  test('token endpoint: a purpose with a NUL from an authenticated agent changes nothing', async () => {
    const tasksBefore = (await h.admin.get<unknown[]>('/tasks')).length;
    const r = await postAgentExchange(h, agent, { purpose: `x${NUL}y` });
    assert.equal(r.status, 400);
    assert.equal(r.body['error'], 'invalid_request');
    assert.equal((await h.admin.get<unknown[]>('/tasks')).length, tasksBefore);
  });

  test('token endpoint: a client assertion whose iss/sub is no agent id (a NUL in it) is invalid_client, not a 500', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    for (const id of [`agent-a${NUL}`, `a${NUL}b`, 'x'.repeat(300), '../admin']) {
      const assertion = await new SignJWT({ jti: `j-${Math.random()}` })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(id)
        .setSubject(id)
        .setAudience(tokenEndpoint())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      const r = await postTokenRequest(
        tokenEndpoint(),
        {
          subject_token: 'abc',
          subject_token_type: TOKEN_TYPE.idToken,
          client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
          client_assertion: assertion,
        },
        null,
      );
      assert.equal(r.status, 401, JSON.stringify(id));
      assert.equal(r.body['error'], 'invalid_client');
    }
    // Introspection and revocation authenticate the same way.
    for (const path of [PATHS.introspect, PATHS.revoke]) {
      const res = await fetch(`${h.writ.publicUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: `t${NUL}` }),
      });
      assert.equal(res.status, 400, path);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
    }
  });

  test('admin API: a NUL in a body field, a query parameter or a path id is 400 and stores nothing', async () => {
    const agentsBefore = (await h.admin.get<unknown[]>('/agents')).length;
    const cases: [string, string, unknown?][] = [
      ['POST', '/agents', { id: 'agent-nul', name: `a${NUL}b`, owner: 'team', jwks: { keys: [agent.publicJwk] } }],
      ['POST', '/agents', { id: 'agent-nul', name: 'ok', owner: 'team', description: `d${NUL}`, jwks: { keys: [agent.publicJwk] } }],
      ['PUT', '/secrets/good-id', { value: `v${NUL}alue-long-enough`, description: 'x' }],
      ['PUT', '/secrets/good-id', { value: 'value-long-enough-123', description: `x${NUL}` }],
      ['GET', `/tasks?agent=a%00b`],
      ['GET', `/audit?user=a%00b`],
      ['GET', `/agents/a%00b`],
      ['GET', `/tasks/t%00x`],
      ['POST', '/revocations', { target: { type: 'user', id: `dev:a${NUL}` }, reason: 'x' }],
      ['POST', '/revocations', { target: { type: 'token', jti: 'tok_1' }, reason: `r${NUL}` }],
    ];
    for (const [method, path, body] of cases) {
      const r = await adminRaw(method, path, body);
      assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
      assert.equal((JSON.parse(r.text) as { code: string }).code, 'ERR_ADMIN_INVALID_REQUEST', `${method} ${path}`);
      assert.doesNotMatch(r.text, LEAK);
    }
    assert.equal((await h.admin.get<unknown[]>('/agents')).length, agentsBefore);
    assert.equal((await adminRaw('GET', '/secrets/good-id')).status, 404);
  });

  test('admin API: an id that breaks the id rule is 400 or 404, never 500', async () => {
    for (const [method, path, body] of [
      ['PUT', '/secrets/BAD', { value: 'value-long-enough-123' }],
      ['PUT', '/secrets/has%20space', { value: 'value-long-enough-123' }],
      ['GET', '/secrets/BAD'],
      ['GET', '/agents/BAD'],
      ['DELETE', '/resources/BAD'],
      ['GET', '/tasks/not-a-task'],
      ['POST', '/agents/BAD/status', { status: 'suspended' }],
    ] as [string, string, unknown?][]) {
      const r = await adminRaw(method, path, body);
      assert.ok(r.status === 400 || r.status === 404, `${method} ${path}: ${r.status} ${r.text}`);
      assert.doesNotMatch(r.text, LEAK);
    }
  });

  test('a base URL or MCP upstream URL carrying user:password@ is refused: credentials belong in the vault', async () => {
    for (const body of [
      { id: 'with-creds', baseUrl: 'http://user:secret@127.0.0.1:1/' },
      { id: 'with-creds', baseUrl: 'https://token@api.example/' },
      { id: 'with-creds', kind: 'mcp', baseUrl: 'http://u:p@127.0.0.1:1/mcp' },
      { id: 'with-creds', kind: 'mcp', mcp: { upstreams: [{ transport: 'http', url: 'http://u:p@127.0.0.1:1/mcp' }] } },
    ]) {
      const r = await adminRaw('POST', '/resources', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.doesNotMatch(r.text, /secret/);
    }
    assert.equal((await adminRaw('GET', '/resources/with-creds')).status, 404);
  });

  test('MCP: arguments nested past the canonicalisation limit are a JSON-RPC error; the session goes on', async () => {
    const task = await h.startTask(agent, { resourceUri: h.mcpUri('tools'), details: [{ type: 'mcp', tools: ['echo'] }] });
    const url = h.mcpUri('tools');
    const client = new Client({ name: 'bad-input', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
    let deep: unknown = 'x';
    for (let i = 0; i < 200; i++) deep = { d: deep };
    await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'hi', deep } }), (err: Error) => {
      assert.doesNotMatch(err.message, LEAK);
      return true;
    });
    const nul = await client.callTool({ name: 'echo', arguments: { message: `a${NUL}b` } }).catch((e: Error) => e);
    if (nul instanceof Error) assert.doesNotMatch(nul.message, LEAK);
    assert.deepEqual(await client.callTool({ name: 'echo', arguments: { message: 'still here' } }), {
      content: [{ type: 'text', text: 'echo: still here' }],
    });
    await client.close();
  });

  test('no audit record carries a stack trace or a file path, and the audit chain still verifies', async () => {
    assert.ok((await auditCount()) > 0);
    const rows = await h.admin.get<unknown[]>('/audit?limit=1000');
    for (const row of rows) assert.doesNotMatch(JSON.stringify(row), LEAK);
    const verified = await h.admin.get<{ ok: boolean }>('/audit/verify');
    assert.equal(verified.ok, true);
  });
});
