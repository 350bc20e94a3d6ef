/**
 * Generated tables of malformed input against every surface a client can reach — the token endpoint, introspection
 * and revocation, the admin API, the HTTP and MCP gateways, the Shared Signals endpoints — on both stores. Each case
 * must be refused with a 4xx (never a 5xx), answer within its bound (never hang), and change nothing: the register,
 * the tasks, the revocation log and the SSF state are the same after the whole table as before it. The tables are
 * built from fixed lists, so every run sends the same requests (the count is asserted: at least 300).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDpopProof } from '@writ/agent';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, PATHS, TOKEN_TYPE } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';

/** Strings no endpoint should accept where a well-formed value is expected. */
const BAD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  'a\r\nX-Injected: 1',
  '../../etc/passwd',
  '%00',
  '%2e%2e%2f',
  '{"',
  '[[[[[[[[',
  'null',
  '\u202eevil',
  '\ud800',
  'x'.repeat(70_000),
  '__proto__',
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
];

/** Values of the wrong JSON type, or hostile shapes, for JSON bodies. */
const BAD_JSON_VALUES: unknown[] = [
  null,
  0,
  -1,
  1e308,
  true,
  [],
  {},
  'x'.repeat(20_000),
  'a\u0000b',
  { __proto__: { admin: true } },
  [[[[[]]]]],
];

/** A case: what to send, and whether it may have changed state (never, here). */
interface Case {
  name: string;
  send: () => Promise<Response>;
}

const TIMEOUT_MS = 10_000;

describeEachStore('fuzz', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  let receiverToken: string;
  let taskToken: string;
  let mcpToken: string;
  let upstream: McpTestUpstream;
  before(async () => {
    upstream = await startMcpTestUpstream();
    await h.admin.post('/resources', { id: 'tools', kind: 'mcp', baseUrl: upstream.url });
    await h.admin.post('/grants', {
      id: 'tools',
      policy: 'permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"tools");',
    });
    agent = await h.registerAgent('agent-a');
    receiverToken = (await h.admin.post<{ token: string }>('/ssf/receivers', { name: 'r', audience: 'https://receiver.example' })).token;
    taskToken = (await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] })).token;
    mcpToken = (await h.startTask(agent, { resourceUri: h.mcpUri('tools'), details: [{ type: 'mcp', tools: ['echo'] }] })).token;
  });
  after(async () => {
    await upstream?.close();
  });

  /** The agent's own credentials for one request: its token and a fresh proof for exactly this method and URL. */
  async function signed(method: string, path: string, token: string): Promise<Record<string, string>> {
    const htu = url(path).split('?', 1)[0] as string;
    return { authorization: `DPoP ${token}`, dpop: await createDpopProof(agent.dpopKey, { htm: method, htu, accessToken: token }) };
  }

  const url = (path: string): string => `${h.writ.publicUrl}${path}`;
  const form =
    (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    (): Promise<Response> =>
      fetch(url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
  const json = (method: string, path: string, body: unknown, headers: Record<string, string>) => (): Promise<Response> =>
    fetch(url(path), {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  const get =
    (path: string, headers: Record<string, string> = {}) =>
    (): Promise<Response> =>
      fetch(url(path), { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });

  function tokenCases(): Case[] {
    const valid = {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: 'x.y.z',
      subject_token_type: TOKEN_TYPE.idToken,
      resource: h.resourceUri('api'),
      authorization_details: JSON.stringify([{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }]),
      client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
      client_assertion: 'a.b.c',
    };
    const cases: Case[] = [];
    for (const field of Object.keys(valid)) {
      for (const bad of BAD_STRINGS.slice(0, 13)) {
        cases.push({
          name: `token ${field}=${JSON.stringify(bad.slice(0, 12))}`,
          send: form(PATHS.token, { ...valid, [field]: bad }, { dpop: bad === '' ? 'x' : bad.slice(0, 200).replace(/[^ -~]/g, '?') }),
        });
      }
    }
    for (const path of [PATHS.introspect, PATHS.revoke]) {
      for (const bad of BAD_STRINGS)
        cases.push({
          name: `${path} token=${JSON.stringify(bad.slice(0, 12))}`,
          send: form(path, { token: bad, client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER, client_assertion: bad }),
        });
    }
    return cases;
  }

  function adminCases(): Case[] {
    const auth = { authorization: `Bearer ${h.adminToken}` };
    const bodies: [string, string, Record<string, unknown>][] = [
      ['POST', '/agents', { id: 'fuzz-agent', name: 'n', owner: 'o', jwks: { keys: [agent.publicJwk] } }],
      ['POST', '/resources', { id: 'fuzz-res', baseUrl: 'http://127.0.0.1:1/' }],
      ['POST', '/grants', { id: 'fuzz-grant', policy: 'permit (principal, action, resource);' }],
      ['POST', '/revocations', { target: { type: 'user', id: 'dev:nobody' }, reason: 'fuzz' }],
      ['PUT', '/secrets/fuzz-secret', { value: 'value-long-enough-123' }],
      [
        'PUT',
        '/secrets/fuzz-minted',
        { kind: 'oauth_client_credentials', tokenEndpoint: 'http://127.0.0.1:1/token', clientId: 'c', clientSecret: 's', scope: 'a b' },
      ],
      ['PUT', '/secrets/fuzz-pair', { username: 'u', password: 'p' }],
      ['POST', '/ssf/receivers', { name: 'fuzz', audience: 'https://fuzz.example' }],
      ['POST', '/audit/verify', { anchors: [{ seq: 1, hash: '0'.repeat(64) }] }],
      // A target that is not killed: even a well-formed lift changes nothing (404); every malformed one is a 400.
      ['POST', '/revocations/lift', { target: { type: 'tool', resourceId: 'tools', tool: 'echo' }, reason: 'fuzz' }],
      ['PATCH', '/agents/agent-a', { owner: 'o', name: 'n' }],
    ];
    const cases: Case[] = [];
    for (const [method, path, good] of bodies) {
      for (const field of Object.keys(good)) {
        for (const bad of BAD_JSON_VALUES) {
          cases.push({
            name: `admin ${method} ${path} ${field}=${JSON.stringify(bad)?.slice(0, 16)}`,
            send: json(method, `/admin/v1${path}`, { ...good, [field]: bad }, auth),
          });
        }
      }
      for (const raw of ['{', '[]', 'null', '"x"', '{"a":' + '['.repeat(5000)])
        cases.push({ name: `admin ${path} body ${raw.slice(0, 8)}`, send: json(method, `/admin/v1${path}`, raw, auth) });
    }
    for (const q of ['limit=-1', 'limit=abc', 'limit=1e9', 'since=yesterday', 'agent=%00', 'type[]=x', 'user=' + 'u'.repeat(5000)]) {
      cases.push({ name: `admin GET /audit?${q.slice(0, 16)}`, send: get(`/admin/v1/audit?${q}`, auth) });
      cases.push({ name: `admin GET /tasks?${q.slice(0, 16)}`, send: get(`/admin/v1/tasks?${q}`, auth) });
    }
    for (const q of ['after_seq=-1', 'after_seq=abc', 'limit=0', 'limit=1e9', 'format=xml', 'format[]=ocsf', 'after_seq=%00']) {
      cases.push({ name: `admin GET /audit/export?${q}`, send: get(`/admin/v1/audit/export?${q}`, auth) });
      cases.push({ name: `admin GET /audit/checkpoints?${q}`, send: get(`/admin/v1/audit/checkpoints?${q}`, auth) });
    }
    for (const q of ['secret=', 'user=%00', 'secret[]=x', 'user=' + 'u'.repeat(5000), 'other=1'])
      cases.push({ name: `admin GET /connections?${q.slice(0, 16)}`, send: get(`/admin/v1/connections?${q}`, auth) });
    for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=1e9', 'limit[]=1'])
      cases.push({ name: `admin GET spawn-tree?${q}`, send: get(`/admin/v1/agents/agent-a/spawn-tree?${q}`, auth) });
    // null is a valid date here (it removes the date), so only the others.
    for (const field of ['expiresAt', 'reviewBy'])
      for (const bad of [...BAD_JSON_VALUES.filter((v) => v !== null), '2099-13-01', '2099-01-01T25:00:00Z', 253_402_300_800_000])
        cases.push({
          name: `admin PATCH /agents ${field}=${JSON.stringify(bad)?.slice(0, 16)}`,
          send: json('PATCH', '/admin/v1/agents/agent-a', { [field]: bad }, auth),
        });
    for (const q of ['windowDays=0', 'taskHours=-1', 'rotateDays=abc', 'windowDays=1e9', 'windowDays[]=1', 'other=1'])
      cases.push({ name: `admin GET /posture?${q}`, send: get(`/admin/v1/posture?${q}`, auth) });
    for (const q of ['since=-1', 'since=abc', 'until=0', 'since[]=1', 'other=1'])
      cases.push({ name: `admin GET observe-report?${q}`, send: get(`/admin/v1/grants/observe-report?${q}`, auth) });
    for (const [id, body] of [
      ['default', { mode: 'shadow' }],
      ['default', {}],
      ['default', { mode: 'enforce', extra: 1 }],
      ['nope', { mode: 'observe' }],
      ['%00', { mode: 'observe' }],
    ] as const)
      cases.push({
        name: `admin POST grants mode ${id} ${JSON.stringify(body).slice(0, 16)}`,
        send: json('POST', `/admin/v1/grants/${id}/mode`, body, auth),
      });
    for (const q of ['status=bogus', 'limit=0', 'limit=-1', 'limit=1e9', 'status[]=pending', 'other=1'])
      cases.push({ name: `admin GET /approvals?${q}`, send: get(`/admin/v1/approvals?${q}`, auth) });
    for (const id of ['apr_nope', '%00', 'x'.repeat(500), '..%2f'])
      for (const verb of ['approve', 'deny']) {
        cases.push({
          name: `admin POST approvals ${verb} ${id.slice(0, 8)}`,
          send: json('POST', `/admin/v1/approvals/${id}/${verb}`, { reason: 'fuzz' }, auth),
        });
        cases.push({ name: `admin POST approvals ${verb} no reason`, send: json('POST', `/admin/v1/approvals/${id}/${verb}`, {}, auth) });
      }
    for (const id of ['apr_nope', '%00', 'x'.repeat(500), '..%2f..%2f']) {
      cases.push({ name: `approval status ${id.slice(0, 8)}`, send: get(`/approvals/v1/${id}`) });
      cases.push({
        name: `approval page POST ${id.slice(0, 8)}`,
        send: form(`/oauth2/approvals/${id}`, { csrf: 'forged', decision: 'approve' }),
      });
    }
    // The console's overview, the explorer's new audit filters, and the console's own routes.
    for (const q of ['minutes=0', 'minutes=-1', 'minutes=abc', 'minutes=181', 'minutes[]=1', 'other=1'])
      cases.push({ name: `admin GET /overview?${q}`, send: get(`/admin/v1/overview?${q}`, auth) });
    for (const q of [
      'decision=maybe',
      'order=sideways',
      'before_seq=0',
      'before_seq=abc',
      'resource=' + 'r'.repeat(201),
      'decision[]=allow',
    ])
      cases.push({ name: `admin GET /audit?${q.slice(0, 16)}`, send: get(`/admin/v1/audit?${q}`, auth) });
    for (const code of BAD_STRINGS.filter((b) => b.length < 1000 && b !== '\ud800'))
      cases.push({
        name: `console link ${JSON.stringify(code).slice(0, 10)}`,
        send: get(`/console/link?code=${encodeURIComponent(code)}`),
      });
    for (const name of ['nope.js', 'index.html', '..%2f..%2fpackage.json', '%00', 'x'.repeat(300), '.env'])
      cases.push({ name: `console asset ${name.slice(0, 10)}`, send: get(`/console/assets/${name}`) });
    for (const cookie of [
      'writ_console=',
      `writ_console=${'A'.repeat(43)}`,
      'writ_console=a; writ_console=b',
      `writ_console=${'%00'.repeat(15)}`,
    ]) {
      cases.push({ name: `console session ${cookie.slice(13, 20)}`, send: get('/console/session', { cookie }) });
      cases.push({ name: `console events ${cookie.slice(13, 20)}`, send: get('/console/events', { cookie }) });
      cases.push({ name: `admin by cookie ${cookie.slice(13, 20)}`, send: get('/admin/v1/agents', { cookie }) });
      cases.push({
        name: `admin change by cookie ${cookie.slice(13, 20)}`,
        send: json('POST', '/admin/v1/revocations', { target: { type: 'all' }, reason: 'fuzz' }, { cookie, 'x-writ-csrf': 'guess' }),
      });
    }
    for (const q of ['state=forged&code=x', 'state=&code=x', 'code=x', 'state=%00', `state=${'s'.repeat(3000)}`, 'error=access_denied'])
      cases.push({
        name: `sign-in callback ${q.slice(0, 12)}`,
        send: get(`/oauth2/callback?${q}`, { cookie: `writ_login_${'A'.repeat(16)}=${'B'.repeat(43)}` }),
      });
    for (const q of ['within=-1', 'within=abc', 'unused=0', 'unused=1e9', 'within[]=1', 'other=1'])
      cases.push({ name: `admin GET /agents/review?${q}`, send: get(`/admin/v1/agents/review?${q}`, auth) });
    for (const target of [
      { type: 'tool', resourceId: 'tools', tool: 'two words' },
      { type: 'tool', resourceId: 'api', tool: 'GET /v1/../x' },
      { type: 'tool', resourceId: 'api', tool: 'FETCH' },
      { type: 'tool', resourceId: 'nope', tool: 'echo' },
      { type: 'tool', resourceId: 'tools', tool: 'x'.repeat(600) },
      { type: 'tool', resourceId: 'tools', tool: 'echo', extra: 1 },
    ])
      cases.push({
        name: `admin POST /revocations tool ${JSON.stringify(target).slice(0, 24)}`,
        send: json('POST', '/admin/v1/revocations', { target, reason: 'fuzz' }, auth),
      });
    for (const [secret, user] of [
      ['nope', 'dev:alice'],
      ['%00', 'x'],
      ['a'.repeat(500), '..%2f'],
    ] as const)
      cases.push({
        name: `admin DELETE /connections/${secret.slice(0, 8)}`,
        send: json('DELETE', `/admin/v1/connections/${secret}/${user}`, '', auth),
      });
    // The connected-accounts pages: forms without a session or token, callbacks with no or forged state.
    for (const secret of ['fuzz-secret', 'nope', '%00']) {
      for (const action of ['connect', 'disconnect'])
        cases.push({
          name: `connections POST ${action} ${secret}`,
          send: form(`/oauth2/connections/${secret}/${action}`, { csrf: 'forged' }),
        });
      for (const q of ['', '?state=forged&code=x', '?error=access_denied', '?state=%00'])
        cases.push({ name: `connections callback ${secret} ${q.slice(0, 12)}`, send: get(`/oauth2/connections/${secret}/callback${q}`) });
    }
    for (const id of ['BAD', '%00', '..%2f..%2fkeys', 'a'.repeat(500), '%E2%80%AE']) {
      for (const path of ['/agents/', '/resources/', '/grants/', '/secrets/', '/tasks/', '/ssf/receivers/'])
        cases.push({ name: `admin GET ${path}${id.slice(0, 10)}`, send: get(`/admin/v1${path}${id}`, auth) });
    }
    return cases;
  }

  function gatewayCases(): Case[] {
    const cases: Case[] = [];
    const paths = [
      '/v1/%00',
      '/v1/..%2f..%2fadmin',
      '/v1//x',
      `/v1/${'a'.repeat(9000)}`,
      '/v1/%ZZ',
      '/v1/a%2Fb',
      '/v1/%2e%2e/x',
      '/v1/a%5cb',
    ];
    const auths: Record<string, string>[] = [
      {},
      { authorization: 'DPoP' },
      { authorization: `DPoP ${taskToken}` },
      { authorization: `Bearer ${taskToken}` },
      { authorization: `DPoP ${taskToken}`, dpop: 'not.a.proof' },
      { authorization: `DPoP ${taskToken.slice(0, -4)}AAAA`, dpop: 'a.b.c' },
    ];
    for (const p of paths)
      for (const a of auths)
        cases.push({ name: `http ${p.slice(0, 16)} ${Object.keys(a).join('+')}`, send: get(`${PATHS.httpResourcePrefix}api${p}`, a) });
    // Authenticated, so the path checks themselves are what refuses.
    for (const p of paths) {
      const path = `${PATHS.httpResourcePrefix}api${p}`;
      cases.push({ name: `http signed ${p.slice(0, 16)}`, send: async () => get(path, await signed('GET', path, taskToken))() });
    }
    const mcpBodies = [
      '{',
      '[]',
      '[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]',
      '{"jsonrpc":"1.0","id":1,"method":"initialize"}',
      '{"jsonrpc":"2.0","id":{},"method":"tools/call"}',
      `{"jsonrpc":"2.0","id":1,"method":"${'m'.repeat(5000)}"}`,
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\\u0000"}}',
      'null',
    ];
    const mcpPath = `${PATHS.mcpResourcePrefix}tools`;
    // Authenticated, so the message checks themselves are what refuses.
    for (const b of mcpBodies) {
      cases.push({
        name: `mcp signed ${b.slice(0, 16)}`,
        send: async () =>
          json('POST', mcpPath, b, { ...(await signed('POST', mcpPath, mcpToken)), accept: 'application/json, text/event-stream' })(),
      });
    }
    for (const b of mcpBodies) {
      for (const a of auths.slice(0, 4))
        cases.push({
          name: `mcp ${b.slice(0, 16)} ${Object.keys(a).join('+')}`,
          send: json('POST', mcpPath, b, { ...a, accept: 'application/json, text/event-stream' }),
        });
    }
    return cases;
  }

  function ssfCases(): Case[] {
    const cases: Case[] = [];
    const good = { authorization: `Bearer ${receiverToken}` };
    for (const auth of [
      {},
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${receiverToken}x` },
      { authorization: `Basic ${receiverToken}` },
    ]) {
      cases.push({ name: `ssf GET streams ${Object.values(auth)[0]?.slice(0, 8) ?? 'none'}`, send: get(PATHS.ssfStreams, auth) });
    }
    for (const bad of BAD_JSON_VALUES) {
      cases.push({
        name: `ssf POST streams delivery=${JSON.stringify(bad)?.slice(0, 12)}`,
        send: json('POST', PATHS.ssfStreams, { delivery: bad }, good),
      });
      cases.push({
        name: `ssf POST status ${JSON.stringify(bad)?.slice(0, 12)}`,
        send: json('POST', PATHS.ssfStatus, { stream_id: bad, status: 'paused' }, good),
      });
      cases.push({
        name: `ssf POST verify ${JSON.stringify(bad)?.slice(0, 12)}`,
        send: json('POST', PATHS.ssfVerification, { stream_id: bad }, good),
      });
      cases.push({
        name: `ssf POST subjects/add ${JSON.stringify(bad)?.slice(0, 12)}`,
        send: json('POST', PATHS.ssfAddSubject, { stream_id: 'nope', subject: bad }, good),
      });
    }
    for (const id of ['%00', 'x'.repeat(500), '..%2f'])
      cases.push({ name: `ssf poll ${id.slice(0, 8)}`, send: json('POST', `${PATHS.ssfPollPrefix}${id}`, { maxEvents: -1 }, good) });
    return cases;
  }

  async function state(): Promise<string> {
    await h.writ.flushAudit();
    const parts = await Promise.all(
      ['/agents', '/resources', '/grants', '/secrets', '/tasks', '/revocations?limit=1000', '/ssf/receivers', '/identity-providers'].map(
        (p) => h.admin.get<unknown>(p),
      ),
    );
    // An agent's last use is activity, not a change: a refused call it authenticated for still counts as use.
    return JSON.stringify(parts, (key, value: unknown) => (key === 'lastUsedAt' ? undefined : value));
  }

  test('at least 300 malformed requests: each a 4xx, none hangs, nothing changes', async () => {
    const cases = [...tokenCases(), ...adminCases(), ...gatewayCases(), ...ssfCases()];
    assert.ok(cases.length >= 300, `${cases.length} cases`);
    const before = await state();
    const wrong: string[] = [];
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(
        cases.slice(i, i + 8).map(async (c) => {
          const res = await c.send();
          await res.arrayBuffer();
          if (res.status < 400 || res.status >= 500) wrong.push(`${c.name}: ${res.status}`);
        }),
      );
    }
    assert.deepEqual(wrong, []);
    assert.equal(await state(), before);
    // Still serving, and the audit chain still verifies.
    assert.equal((await fetch(`${h.writ.url}/readyz`)).status, 200);
    assert.equal((await h.admin.get<{ ok: boolean }>('/audit/verify')).ok, true);
  });
});
