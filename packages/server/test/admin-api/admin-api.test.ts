/** The admin API on every store: authentication, validation at the edge, write-only secrets, Cedar-validated grants, OpenAPI. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';

describeEachStore('admin API', (kind) => {
  const h = useHarness(kind);

  async function raw(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = h.adminToken,
  ): Promise<{ status: number; text: string; json: () => Record<string, unknown> }> {
    const res = await fetch(`${h.writ.url}/admin/v1${path}`, {
      method,
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
  }

  test('every route requires an admin token', async () => {
    for (const token of [null, 'wrong-token-wrong-token', `${h.adminToken}x`]) {
      const r = await raw('GET', '/agents', undefined, token);
      assert.equal(r.status, 401);
      assert.equal(r.json()['code'], 'ERR_ADMIN_UNAUTHENTICATED');
    }
    // Refusals of unauthenticated callers are on the record per window and address: the first as it happened, the rest
    // as a count (audit/anonymous-denials.ts).
    await h.writ.flushAudit();
    const refused = await h.admin.get<Array<{ reason: string; action: string; data: { aggregated?: number } }>>(
      '/audit?type=admin.denied&limit=1000',
    );
    assert.equal(
      refused.reduce((n, e) => n + (e.data.aggregated ?? 1), 0),
      3,
    );
    assert.ok(refused.every((e) => e.reason === 'ERR_ADMIN_UNAUTHENTICATED' && e.action === 'GET /admin/v1/agents'));
    const created = await h.writ.adminAuth.create('second');
    assert.equal((await raw('GET', '/agents', undefined, created.token)).status, 200);
    const stored = await h.store.db.selectFrom('admin_tokens').select('token_hash').execute();
    assert.ok(!JSON.stringify(stored).includes(created.token), 'admin tokens are stored hashed');
  });

  test('a bad request gets a clear error and changes nothing', async () => {
    const before = (await h.admin.get<unknown[]>('/agents')).length;
    const r = await raw('POST', '/agents', {
      id: 'Bad Id',
      name: 'x',
      owner: 'o',
      jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] },
    });
    assert.equal(r.status, 400);
    assert.equal(r.json()['code'], 'ERR_ADMIN_INVALID_REQUEST');
    assert.match(r.text, /id: lower-case/);
    assert.match(r.text, /public keys only/);
    assert.equal((await h.admin.get<unknown[]>('/agents')).length, before);
    assert.equal((await raw('POST', '/resources', { id: 'r1', baseUrl: 'ftp://x' })).status, 400);
    assert.equal(
      (await raw('POST', '/resources', { id: 'r1', baseUrl: 'http://127.0.0.1:1', secretId: 'missing', inject: { mode: 'bearer' } }))
        .status,
      404,
    );
    assert.equal((await raw('GET', '/agents/nope')).status, 404);
  });

  test('grants are stored only when they validate against the Writ schema', async () => {
    const bad = await raw('POST', '/grants', { id: 'bad', policy: 'permit (principal == Writ::Agnet::"x", action, resource);' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json()['code'], 'ERR_ADMIN_POLICY_INVALID');
    assert.ok(Array.isArray(bad.json()['details']) && (bad.json()['details'] as unknown[]).length > 0);
    const typo = await raw('POST', '/grants', {
      id: 'typo',
      policy: 'permit (principal, action == Writ::Action::"http", resource) when { context.pathh == "/" };',
    });
    assert.equal(typo.status, 400);
    assert.equal((await raw('GET', '/grants/bad')).status, 404);
    const v = await raw('POST', '/grants/validate', {
      policy: 'permit (principal, action == Writ::Action::"http", resource) when { context.method == "GET" };',
    });
    assert.equal(v.status, 200);
    assert.equal(v.json()['ok'], true);
  });

  test('secrets are write-only: no response and no stored row contains the value', async () => {
    const value = 'sk_live_super_secret_value_0123456789';
    const put = await raw('PUT', '/secrets/pay', { value, description: 'payments' });
    assert.equal(put.status, 200);
    const again = await raw('PUT', '/secrets/pay', { value: `${value}-v2` });
    assert.equal(again.json()['current_version'], 2);
    for (const r of [put, again, await raw('GET', '/secrets'), await raw('GET', '/secrets/pay')])
      assert.ok(!r.text.includes('super_secret'), r.text);
    const rows = await h.store.db.selectFrom('secret_versions').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes('super_secret'), 'secrets are encrypted at rest');
    await h.writ.flushAudit();
    const audit = await h.store.db.selectFrom('audit_events').select('body').execute();
    assert.ok(!JSON.stringify(audit).includes('super_secret'), 'secret values never reach the audit log');
  });

  test('admin changes are audited with the operator', async () => {
    await h.admin.post('/resources', { id: 'audited', baseUrl: 'http://127.0.0.1:9' });
    const events = await h.admin.get<Array<{ type: string; reason: string; actor_chain?: string[] }>>(
      '/audit?type=admin.change&limit=1000',
    );
    const e = events.find((x) => x.reason === 'resource.created');
    assert.ok(e !== undefined);
    assert.deepEqual(e.actor_chain, ['admin:WRIT_ADMIN_TOKEN']);
  });

  test('serves an OpenAPI document describing every route', async () => {
    const doc = (await (await fetch(`${h.writ.url}/admin/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    for (const p of [
      '/admin/v1/agents',
      '/admin/v1/resources',
      '/admin/v1/secrets/{id}',
      '/admin/v1/grants',
      '/admin/v1/tasks/{id}/revoke',
      '/admin/v1/revocations',
      '/admin/v1/audit',
      '/admin/v1/audit/verify',
    ]) {
      assert.ok(doc.paths[p] !== undefined, `missing ${p}`);
    }
    const putSecret = doc.paths['/admin/v1/secrets/{id}']?.['put'] as {
      requestBody: { content: { 'application/json': { schema: { anyOf: { properties: Record<string, unknown> }[] } } } };
    };
    // One body per kind of secret: a static value, or what Writ mints upstream tokens from.
    const kinds = putSecret.requestBody.content['application/json'].schema.anyOf;
    assert.ok(kinds.some((k) => 'value' in k.properties));
    assert.ok(kinds.some((k) => 'tokenEndpoint' in k.properties && 'clientSecret' in k.properties));
  });

  test('health and readiness', async () => {
    assert.deepEqual(await (await fetch(`${h.writ.url}/healthz`)).json(), { status: 'ok' });
    const ready = (await (await fetch(`${h.writ.url}/readyz`)).json()) as { status: string; checks: Record<string, unknown> };
    assert.equal(ready.status, 'ready');
    assert.equal(ready.checks['store'], 'ok');
    assert.deepEqual(ready.checks['mcp'], { sessions: 0, sessionless: 0 });
  });

  test('metrics: Prometheus text with decisions by reason, revocation state and MCP sessions; no identities', async () => {
    const scrape = async (): Promise<string> => {
      const res = await fetch(`${h.writ.url}/metrics`);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      return res.text();
    };
    const unauthenticated = await fetch(`${h.writ.url}/r/api/v1/projects`);
    assert.equal(unauthenticated.status, 401);
    await unauthenticated.text();
    const revoked = await h.admin.post<{ seq: number }>('/revocations', {
      target: { type: 'user', userId: 'dev:metrics-test' },
      reason: 'metrics',
    });
    const text = await scrape();
    assert.match(text, /writ_gateway_decisions_total\{gateway="http",decision="deny",reason="ERR_AUTH_MISSING"\} [1-9]/);
    const seq = /^writ_revocation_last_seq (\d+)$/m.exec(text);
    assert.ok(seq !== null && Number(seq[1]) >= revoked.seq, 'the last applied sequence is reported');
    assert.match(text, /^writ_mcp_sessions\{kind="session"\} 0$/m);
    assert.doesNotMatch(text, /dev:metrics-test/, 'no user, agent or task in the metrics');
  });
});
