/**
 * The HTTP gateway end to end, on every store: a permitted call reaches the upstream with the vault's secret and
 * without the agent's credentials; every attack gets its stable error and leaves nothing behind but its audit
 * event (no upstream call, no task, no token).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { createDpopProof } from '@writ/agent';
import type { AuthorizationDetail } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { rawRequest, type RawResponse } from '../helpers/raw-request.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects', '/v1/projects/*'] }];

interface AuditRow {
  id: string;
  type: string;
  decision?: string;
  reason: string;
  trace_id: string;
  task_id?: string;
  action?: string;
  data?: Record<string, unknown>;
}

describeEachStore('gateway', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  before(async () => {
    agent = await h.registerAgent('agent-a');
  });

  /** A raw call with a fresh, correct proof unless the test overrides pieces of it. */
  async function call(
    token: string,
    o: {
      method?: string;
      path: string;
      proofMethod?: string;
      proofUrl?: string;
      extraHeaders?: Array<[string, string]>;
      scheme?: string;
      body?: string;
      proof?: string | null;
    },
  ): Promise<RawResponse> {
    const method = o.method ?? 'GET';
    const base = new URL(h.writ.publicUrl);
    const proof =
      o.proof === undefined
        ? await createDpopProof(agent.dpopKey, {
            htm: o.proofMethod ?? method,
            htu: o.proofUrl ?? `${h.writ.publicUrl}${o.path.split('?')[0] ?? ''}`,
            accessToken: token,
          })
        : o.proof;
    const headers: Array<[string, string]> = [['authorization', `${o.scheme ?? 'DPoP'} ${token}`]];
    if (proof !== null) headers.push(['dpop', proof]);
    headers.push(...(o.extraHeaders ?? []));
    return rawRequest(base.origin, { method, path: o.path, headers, ...(o.body !== undefined ? { body: o.body } : {}) });
  }

  async function lastAudit(): Promise<AuditRow> {
    const events = await h.admin.get<AuditRow[]>('/audit?limit=1000');
    const last = events.at(-1);
    assert.ok(last !== undefined);
    return last;
  }

  /**
   * Asserts the denial, that the upstream saw no whole request, and the audit: one `call.denied` naming the code for
   * a call refused before forwarding; for one refused while forwarding (a body that grows past the limit), the
   * write-ahead `call.allowed` and its `call.outcome` naming the code.
   */
  async function expectDenied(
    res: RawResponse,
    status: number,
    code: string,
    upstreamBefore: number,
    stage: 'before' | 'forwarding' = 'before',
  ): Promise<void> {
    assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${res.body}`);
    assert.equal((res.json() as { code: string }).code, code);
    assert.equal(h.upstream.requests.length, upstreamBefore, 'the upstream must not be reached');
    const events = await h.admin.get<AuditRow[]>('/audit?limit=1000');
    const ev = events.at(-1);
    assert.ok(ev !== undefined);
    assert.equal(ev.reason, code);
    if (stage === 'before') {
      assert.equal(ev.type, 'call.denied');
      return;
    }
    assert.equal(ev.type, 'call.outcome');
    const intent = events.at(-2);
    assert.equal(intent?.type, 'call.allowed');
    assert.equal(ev.data?.['of'], intent.id);
  }

  test("a permitted call reaches the upstream with the injected secret and none of the agent's credentials", async () => {
    const task = await h.startTask(agent, { details: READ });
    const res = await task.fetch(`${h.resourceUri('api')}/v1/projects?sort=name`, {
      headers: { cookie: 'session=stolen', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-upstream'), 'yes');
    assert.equal(res.headers.get('x-hop'), null, 'headers named in Connection are hop-by-hop');
    const seen = h.upstream.requests.at(-1);
    assert.ok(seen !== undefined);
    assert.equal(seen.url, '/v1/projects?sort=name');
    assert.equal(seen.headers.authorization, 'Bearer upstream-secret-value-1234567890');
    assert.equal(seen.headers.dpop, undefined);
    assert.equal(seen.headers.cookie, undefined);
    assert.match(String(seen.headers.traceparent), /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    // Written ahead of forwarding, then the outcome, linked to it.
    const events = await h.admin.get<AuditRow[]>('/audit?limit=1000');
    const [intent, outcome] = events.slice(-2);
    assert.equal(intent?.type, 'call.allowed');
    assert.equal(intent.task_id, task.id);
    assert.equal(intent.action, 'GET /v1/projects');
    assert.equal(intent.trace_id, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(outcome?.type, 'call.outcome');
    assert.equal(outcome.reason, 'completed');
    assert.equal(outcome.data?.['of'], intent.id);
    assert.equal(outcome.data?.['status'], 200);
    assert.ok(Number(outcome.data?.['bytes_out']) > 0);
  });

  test('no credentials: 401 with a DPoP challenge naming algs and the resource metadata, no error parameter', async () => {
    const n = h.upstream.requests.length;
    const res = await rawRequest(new URL(h.writ.url).origin, { method: 'GET', path: '/r/api/v1/projects' });
    await expectDenied(res, 401, 'ERR_AUTH_MISSING', n);
    const challenge = String(res.headers['www-authenticate']);
    assert.match(challenge, /^DPoP /);
    assert.doesNotMatch(challenge, /error=/);
    assert.match(challenge, /algs="ES256/);
    assert.match(challenge, /resource_metadata=".*\/\.well-known\/oauth-protected-resource\/r\/api"/);
    const prm = (await (await fetch(`${h.writ.url}/.well-known/oauth-protected-resource/r/api`)).json()) as Record<string, unknown>;
    assert.equal(prm['resource'], h.resourceUri('api'));
    assert.deepEqual(prm['authorization_servers'], [h.writ.publicUrl]);
    assert.equal(prm['dpop_bound_access_tokens_required'], true);
  });

  test("an action outside the task's authorization details is refused with insufficient_scope", async () => {
    const task = await h.startTask(agent, { details: READ });
    const n = h.upstream.requests.length;
    const res = await call(task.token, { method: 'POST', path: '/r/api/v1/projects', body: '{}' });
    await expectDenied(res, 403, 'ERR_ACTION_NOT_AUTHORIZED', n);
    assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/);
    const other = await call(task.token, { path: '/r/api/v1/admin' });
    await expectDenied(other, 403, 'ERR_ACTION_NOT_AUTHORIZED', n);
  });

  test('token and proof attacks each get their own error', async () => {
    const task = await h.startTask(agent, { details: READ });
    const n = h.upstream.requests.length;
    const path = '/r/api/v1/projects';
    await expectDenied(await call(task.token, { path, proof: null }), 401, 'ERR_DPOP_MISSING', n);
    await expectDenied(await call(task.token, { path, scheme: 'Bearer' }), 401, 'ERR_AUTH_SCHEME', n);
    await expectDenied(await call(task.token, { path, proofMethod: 'POST' }), 401, 'ERR_DPOP_HTM', n);
    await expectDenied(await call(task.token, { path, proofUrl: `${h.writ.publicUrl}/r/api/v1/other` }), 401, 'ERR_DPOP_HTU', n);
    const proof = await createDpopProof(agent.dpopKey, { htm: 'GET', htu: `${h.writ.publicUrl}${path}`, accessToken: task.token });
    assert.equal((await call(task.token, { path, proof })).status, 200);
    const m = h.upstream.requests.length;
    await expectDenied(await call(task.token, { path, proof }), 401, 'ERR_DPOP_REPLAY', m);
    const otherKey = (await h.registerAgent('agent-other')).dpopKey;
    const foreign = await createDpopProof(otherKey, { htm: 'GET', htu: `${h.writ.publicUrl}${path}`, accessToken: task.token });
    await expectDenied(await call(task.token, { path, proof: foreign }), 401, 'ERR_DPOP_BINDING', m);
    const wrongAth = await createDpopProof(agent.dpopKey, { htm: 'GET', htu: `${h.writ.publicUrl}${path}`, accessToken: `${task.token}x` });
    await expectDenied(await call(task.token, { path, proof: wrongAth }), 401, 'ERR_DPOP_ATH', m);
    await expectDenied(
      await call(task.token, { path, extraHeaders: [['authorization', 'Bearer upstream-token-the-agent-found']] }),
      400,
      'ERR_AUTH_MULTIPLE',
      m,
    );
  });

  test('forged and stale tokens are refused', async () => {
    const task = await h.startTask(agent, { details: READ });
    const path = '/r/api/v1/projects';
    const n = h.upstream.requests.length;
    const [header, payload] = task.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`;
    await expectDenied(await call(none, { path }), 401, 'ERR_TOKEN_ALG', n);
    // HS256 "signed" with the public key bytes: the classic algorithm confusion.
    const jwks = (await (await fetch(`${h.writ.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, string>> };
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0]?.['kid'] ?? '' })
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    await expectDenied(await call(hs, { path }), 401, 'ERR_TOKEN_ALG', n);
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    void (await exportJWK(publicKey));
    const unknownKid = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'not-a-writ-key' })
      .sign(privateKey);
    await expectDenied(await call(unknownKid, { path }), 401, 'ERR_TOKEN_KID_UNKNOWN', n);
    const realKid = JSON.parse(Buffer.from(header, 'base64url').toString()).kid as string;
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: realKid }).sign(privateKey);
    await expectDenied(await call(forged, { path }), 401, 'ERR_TOKEN_SIGNATURE', n);
    const tampered = `${header}.${b64({ ...claims, authorization_details: [{ type: 'http', actions: ['DELETE'], paths: ['/**'] }] })}.${task.token.split('.')[2]}`;
    await expectDenied(await call(tampered, { path }), 401, 'ERR_TOKEN_SIGNATURE', n);
    // A token for another resource is refused here.
    await h.admin.post('/resources', { id: 'other', baseUrl: h.upstream.url });
    await expectDenied(await call(task.token, { path: '/r/other/v1/projects' }), 401, 'ERR_TOKEN_AUDIENCE', n);
    // Expiry: move Writ's clock past the token's end.
    h.clock.advance(601 + 10);
    try {
      await expectDenied(await call(task.token, { path }), 401, 'ERR_TOKEN_EXPIRED', n);
    } finally {
      h.clock.advance(-(601 + 10));
    }
    h.clock.advance(-3600);
    try {
      await expectDenied(await call(task.token, { path }), 401, 'ERR_TOKEN_NOT_YET_VALID', n);
    } finally {
      h.clock.advance(3600);
    }
  });

  test('paths that try to leave the authorized prefix are refused before anything is forwarded', async () => {
    const task = await h.startTask(agent, { details: READ });
    const n = h.upstream.requests.length;
    for (const path of [
      '/r/api/v1/projects/../admin',
      '/r/api/v1/projects/%2e%2e/admin',
      '/r/api/v1/projects/.%2E/admin',
      '/r/api/v1//projects',
      '/r/api/v1/projects%2f..%2fadmin',
      '/r/api/v1/projects%5c..%5cadmin',
      '/r/api/v1/projects/%00',
    ]) {
      const res = await call(task.token, { path });
      assert.ok(res.status === 400 || res.status === 403, `${path}: ${res.status} ${res.body}`);
      assert.equal(h.upstream.requests.length, n, `${path} must not reach the upstream`);
    }
    // Percent-encoded unreserved characters are just the characters: allowed, and forwarded in canonical form.
    const ok = await call(task.token, { path: '/r/api/v1/projects/%61bc' });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(h.upstream.requests.at(-1)?.url, '/v1/projects/abc');
  });

  test('an agent cannot set the injected header itself', async () => {
    await h.admin.put('/secrets/hdr-key', { value: 'header-secret-abcdefghijklmnop' });
    await h.admin.post('/resources', {
      id: 'hdr',
      baseUrl: h.upstream.url,
      secretId: 'hdr-key',
      inject: { mode: 'header', name: 'X-Api-Key' },
    });
    await h.admin.post('/grants', {
      id: 'hdr',
      policy:
        'permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"hdr") when { context.path like "/v1/*" };',
    });
    const task = await h.startTask(agent, { resource: 'hdr', details: READ });
    const res = await task.fetch(`${h.resourceUri('hdr')}/v1/projects`, { headers: { 'x-api-key': 'agent-chosen-value' } });
    assert.equal(res.status, 200);
    const seen = h.upstream.requests.at(-1);
    assert.deepEqual(seen?.rawHeaders.filter((_, i, all) => i % 2 === 0 && all[i]?.toLowerCase() === 'x-api-key').length, 1);
    assert.equal(seen?.headers['x-api-key'], 'header-secret-abcdefghijklmnop');
  });

  test('a two-part static secret is injected as Basic credentials; a rule that also names a username is refused', async () => {
    await h.admin.put('/secrets/basic-pair', { username: 'ci-bot', password: 'pair-password-abcdefghij' });
    const meta = await h.admin.get<{ kind: string; config: unknown }>('/secrets/basic-pair');
    assert.deepEqual([meta.kind, meta.config], ['static', { format: 'basic' }]);
    for (const [id, inject] of [
      ['pair', { mode: 'basic' }],
      ['pair-named', { mode: 'basic', username: 'someone-else' }],
    ] as const) {
      await h.admin.post('/resources', { id, baseUrl: h.upstream.url, secretId: 'basic-pair', inject });
      await h.admin.post('/grants', {
        id,
        policy: `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"${id}");`,
      });
    }
    const task = await h.startTask(agent, { resource: 'pair', details: READ });
    const res = await task.fetch(`${h.resourceUri('pair')}/v1/projects`);
    assert.equal(res.status, 200);
    assert.equal(
      h.upstream.requests.at(-1)?.headers.authorization,
      `Basic ${Buffer.from('ci-bot:pair-password-abcdefghij').toString('base64')}`,
    );
    const before = h.upstream.requests.length;
    const named = await h.startTask(agent, { resource: 'pair-named', details: READ });
    const refused = await named.fetch(`${h.resourceUri('pair-named')}/v1/projects`);
    assert.equal(refused.status, 502);
    assert.equal(h.upstream.requests.length, before, 'nothing forwarded');
    assert.ok(!(await refused.text()).includes('pair-password'));
  });

  test("the query reaches the upstream as the agent wrote it; a query injection replaces the agent's parameter", async () => {
    const task = await h.startTask(agent, { details: READ });
    const query = '?b=x%2Fy&a=1&a=2&plus=a+b&space=a%20b&empty&t=%E2%9C%93';
    const plain = await call(task.token, { path: `/r/api/v1/projects${query}` });
    assert.equal(plain.status, 200, plain.body);
    assert.equal(h.upstream.requests.at(-1)?.url, `/v1/projects${query}`);

    await h.admin.put('/secrets/query-key', { value: 'query-secret-abcdefghijklmnop' });
    await h.admin.post('/resources', {
      id: 'qry',
      baseUrl: h.upstream.url,
      secretId: 'query-key',
      inject: { mode: 'query', name: 'api_key' },
    });
    await h.admin.post('/grants', {
      id: 'qry',
      policy:
        'permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"qry") when { context.path like "/v1/*" };',
    });
    const qtask = await h.startTask(agent, { resource: 'qry', details: READ });
    const res = await qtask.fetch(`${h.resourceUri('qry')}/v1/projects?API_KEY=agent-chosen&sort=name`);
    assert.equal(res.status, 200);
    const seen = new URL(h.upstream.requests.at(-1)?.url ?? '', 'http://upstream');
    assert.deepEqual(
      [...seen.searchParams],
      [
        ['sort', 'name'],
        ['api_key', 'query-secret-abcdefghijklmnop'],
      ],
    );
  });

  test('an oversized body is refused, declared or streamed', async () => {
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['POST'], paths: ['/v1/upload'] }] });
    const n = h.upstream.requests.length;
    const big = 'x'.repeat(11 * 1024 * 1024);
    await expectDenied(
      await call(task.token, { method: 'POST', path: '/r/api/v1/upload', body: big }),
      413,
      'ERR_BODY_TOO_LARGE',
      n,
      'forwarding',
    );
    const chunk = Buffer.alloc(1024 * 1024, 120);
    const streamed = await rawRequest(new URL(h.writ.publicUrl).origin, {
      method: 'POST',
      path: '/r/api/v1/upload',
      headers: [
        ['authorization', `DPoP ${task.token}`],
        [
          'dpop',
          await createDpopProof(agent.dpopKey, { htm: 'POST', htu: `${h.writ.publicUrl}/r/api/v1/upload`, accessToken: task.token }),
        ],
      ],
      chunks: Array.from({ length: 11 }, () => chunk),
    });
    assert.equal(streamed.status, 413, streamed.body);
    assert.equal((streamed.json() as { code: string }).code, 'ERR_BODY_TOO_LARGE');
    const small = await call(task.token, { method: 'POST', path: '/r/api/v1/upload', body: 'hello' });
    assert.equal(small.status, 200);
    assert.deepEqual(small.json(), { method: 'POST', url: '/v1/upload', bodyLength: 5 });
  });

  test('completing a task refuses the very next call; revocations survive a restart', async () => {
    const task = await h.startTask(agent, { details: READ });
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    await task.complete();
    const n = h.upstream.requests.length;
    await expectDenied(await call(task.token, { path: '/r/api/v1/projects' }), 401, 'ERR_REVOKED_TASK', n);
    const t2 = await h.startTask(agent, { details: READ });
    await h.admin.post(`/tasks/${t2.id}/revoke`, { reason: 'operator stop' });
    await expectDenied(await call(t2.token, { path: '/r/api/v1/projects' }), 401, 'ERR_REVOKED_TASK', n);
    const t3 = await h.startTask(agent, { details: READ });
    await h.admin.post('/revocations', {
      target: { type: 'token', jti: JSON.parse(Buffer.from(t3.token.split('.')[1] ?? '', 'base64url').toString()).jti as string },
      reason: 'leaked',
    });
    await h.restart();
    await expectDenied(await call(task.token, { path: '/r/api/v1/projects' }), 401, 'ERR_REVOKED_TASK', n);
    await expectDenied(await call(t3.token, { path: '/r/api/v1/projects' }), 401, 'ERR_REVOKED_TOKEN', n);
    // Completing with a revoked token is refused, and the refusal is audited too.
    const again = await rawRequest(new URL(h.writ.publicUrl).origin, {
      method: 'POST',
      path: '/agent/v1/task/complete',
      headers: [
        ['authorization', `DPoP ${t3.token}`],
        [
          'dpop',
          await createDpopProof(agent.dpopKey, { htm: 'POST', htu: `${h.writ.publicUrl}/agent/v1/task/complete`, accessToken: t3.token }),
        ],
        ['content-length', '0'],
      ],
    });
    assert.equal(again.status, 401);
    const denied = await lastAudit();
    assert.equal(denied.type, 'call.denied');
    assert.equal(denied.reason, 'ERR_REVOKED_TOKEN');
    const status = await h.admin.get<{ status: string }>(`/tasks/${task.id}`);
    assert.equal(status.status, 'completed');
  });

  test('revoking the agent suspends it and refuses its live tokens', async () => {
    const b = await h.registerAgent('agent-b');
    await h.admin.post('/grants', {
      id: 'agent-b',
      policy: 'permit (principal == Writ::Agent::"agent-b", action == Writ::Action::"http", resource == Writ::Resource::"api");',
    });
    const task = await h.startTask(b, { details: READ });
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    await h.admin.post('/revocations', { target: { type: 'agent', agentId: 'agent-b' }, reason: 'compromised' });
    const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'ERR_REVOKED_AGENT');
    const agentNow = await h.admin.get<{ status: string }>('/agents/agent-b');
    assert.equal(agentNow.status, 'suspended');
    await assert.rejects(h.startTask(b, { details: READ }), /invalid_client/);
  });
});
