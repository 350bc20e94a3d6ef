/**
 * Stock MCP hosts sign in through Writ: the MCP SDK's own OAuth client, knowing only the URL of an MCP resource,
 * discovers Writ, registers (Dynamic Client Registration, or a Client ID Metadata Document served over https),
 * sends alice through the dev identity provider and Writ's consent page, and calls server-everything with the task
 * token it gets — the consented tools only. Refresh tokens rotate; reusing one ends the task; revoking the task or
 * the client ends both the next call and the refresh.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PATHS } from '@writ/protocol';
import { ScriptedMcpHost, serveClientMetadataDocument } from '@writ/dev/kit';
import { STORE_KINDS } from '../helpers/stores.js';
import { startAuthorizationHarness } from '../helpers/authorization-harness.js';

const kinds = STORE_KINDS.filter((k) => k.name === 'sqlite');

for (const kind of kinds) {
  test(`stock MCP hosts through Writ's authorization server [${kind.name}]`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'writ-as-'));
    const cimd = await serveClientMetadataDocument((clientId) => ({
      client_id: clientId,
      client_name: 'Metadata Host',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }));
    writeFileSync(join(dir, 'ca.pem'), cimd.caPem);
    const h = await startAuthorizationHarness(kind, {
      tools: ['echo', 'get-sum', 'get-env'],
      config: { 'authorization.metadataDocuments.caFile': join(dir, 'ca.pem') },
    });
    t.after(async () => {
      await h.close();
      await cimd.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const alice = { username: 'alice', password: h.alice.password };
    const url = h.mcpUri('everything');
    const tokenEndpoint = `${h.writ.publicUrl}${PATHS.token}`;
    const refresh = (clientId: string, refreshToken: string) =>
      fetch(tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
      });

    await t.test('metadata lists what stock clients read', async () => {
      const m = (await (await fetch(`${h.writ.publicUrl}${PATHS.asMetadata}`)).json()) as Record<string, unknown>;
      assert.equal(m['issuer'], h.writ.publicUrl);
      assert.equal(m['authorization_endpoint'], `${h.writ.publicUrl}${PATHS.authorize}`);
      assert.equal(m['registration_endpoint'], `${h.writ.publicUrl}${PATHS.register}`);
      assert.deepEqual(m['response_types_supported'], ['code']);
      assert.deepEqual(m['code_challenge_methods_supported'], ['S256']);
      assert.equal(m['client_id_metadata_document_supported'], true);
      assert.equal(m['authorization_response_iss_parameter_supported'], true);
      for (const g of [
        'authorization_code',
        'refresh_token',
        'urn:ietf:params:oauth:grant-type:token-exchange',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
      ])
        assert.ok((m['grant_types_supported'] as string[]).includes(g), g);
      for (const a of ['none', 'private_key_jwt']) assert.ok((m['token_endpoint_auth_methods_supported'] as string[]).includes(a), a);
    });

    await t.test('SDK auth() with Dynamic Client Registration: consented tools only, refresh rotates, reuse ends the task', async () => {
      const host = new ScriptedMcpHost({
        redirectUri: 'http://127.0.0.1:45111/callback',
        user: alice,
        consent: { choose: (offered) => offered.filter((c) => c !== 'tool:get-env') },
      });
      const client = await host.connect(url);
      assert.deepEqual([...host.offered].sort(), ['tool:echo', 'tool:get-env', 'tool:get-sum']);
      assert.equal(host.lastRedirect?.searchParams.get('iss'), h.writ.publicUrl);
      assert.match(String(host.client?.client_id), /^client-[0-9a-f]{16}$/);
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
      assert.match(JSON.stringify(echo.content), /hi/);
      const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
      assert.match(JSON.stringify(sum.content), /5/);
      await assert.rejects(client.callTool({ name: 'get-env', arguments: {} }), /ERR_|not|denied|forbidden/i);
      const listed = (await client.listTools()).tools.map((x) => x.name).sort();
      assert.deepEqual(listed, ['echo', 'get-sum']);
      await client.close();

      const tokens = host.tokenSet;
      assert.equal(tokens?.token_type, 'Bearer');
      const first = tokens?.refresh_token as string;
      const clientId = String(host.client?.client_id);
      const r1 = await refresh(clientId, first);
      assert.equal(r1.status, 200);
      assert.equal(r1.headers.get('cache-control'), 'no-store');
      const b1 = (await r1.json()) as { access_token: string; refresh_token: string };
      assert.notEqual(b1.refresh_token, first);
      // The old one again: the whole family and the task end.
      const reuse = await refresh(clientId, first);
      assert.equal(reuse.status, 400);
      assert.equal(((await reuse.json()) as { error: string }).error, 'invalid_grant');
      const after = await refresh(clientId, b1.refresh_token);
      assert.equal(((await after.json()) as { error: string }).error, 'invalid_grant');
      const call = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${b1.access_token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
        }),
      });
      assert.equal(call.status, 401);
    });

    await t.test('SDK auth() with a Client ID Metadata Document; revoking the client ends its calls and its refresh', async () => {
      const host = new ScriptedMcpHost({ redirectUri: 'http://127.0.0.1:45112/callback', clientMetadataUrl: cimd.clientId, user: alice });
      const client = await host.connect(url);
      assert.equal(host.client?.client_id, cimd.clientId);
      await client.callTool({ name: 'echo', arguments: { message: 'cimd' } });
      const agents = await h.admin.get<Array<{ id: string; kind: string; owner: string; name: string }>>('/agents');
      const agent = agents.find((a) => a.kind === 'oauth_client' && a.name === 'Metadata Host');
      assert.ok(agent !== undefined);
      await h.admin.post('/revocations', { target: { type: 'agent', agentId: agent.id }, reason: 'test' });
      await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'after' } }));
      const r = await refresh(cimd.clientId, host.tokenSet?.refresh_token as string);
      assert.equal(((await r.json()) as { error: string }).error, 'invalid_grant');
      await client.close().catch(() => undefined);
    });
  });
}
