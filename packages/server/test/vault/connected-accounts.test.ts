/**
 * Connected accounts (`user_oauth`) end to end, on every store, against a real authorization server (`oidc-provider`:
 * authorization code + PKCE, refresh tokens rotated on every use, revocation) and an API that accepts only its tokens:
 * each person connects their own account once, signed in at the organisation's provider; a call for alice reaches the
 * upstream as alice's account and a call for bob as bob's; a person who has not connected is told where to; and the
 * connect flow cannot be replayed, carried to another person's session, or used to link one account to two people.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpFetch } from '@writ/agent';
import type { AuthorizationDetail } from '@writ/protocol';
import { ScriptedBrowser, startUpstreamAuthorizationServer, type UpstreamAuthorizationServer } from '@writ/dev';
import { KeyEncryptionKey } from '../../src/crypto/index.js';
import { Connections } from '../../src/vault/index.js';
import { AUTHORIZATION_SERVER_CONFIG } from '../helpers/authorization-harness.js';
import { connectAccount, NOWHERE, pressButton, signIn, type Page } from '../helpers/connect-account.js';
import { startMcpTestUpstream, type McpTestUpstream } from '../helpers/mcp-test-upstream.js';
import { describeEachStore } from '../helpers/stores.js';
import { registerBearerResource, useHarness, type TestAgent } from '../helpers/writ-harness.js';

const CLIENT = { id: 'writ-connect', secret: 'connect-client-secret-0123456789' };
const UPSTREAM_ACCOUNTS = [
  { username: 'alice-at-upstream', password: 'alice-upstream-password' },
  { username: 'bob-at-upstream', password: 'bob-upstream-password' },
];
const DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/whoami'] }];

describeEachStore('connected accounts', (kind) => {
  const h = useHarness(kind, { config: AUTHORIZATION_SERVER_CONFIG });
  let agent: TestAgent;
  let as: UpstreamAuthorizationServer;
  let mcp: McpTestUpstream;
  const connectUrl = (): string => `${h.writ.publicUrl}/oauth2/connections/up/connect`;

  before(async () => {
    as = await startUpstreamAuthorizationServer({
      clients: [],
      accounts: UPSTREAM_ACCOUNTS,
      codeClients: [
        {
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          redirect_uris: [`${h.writ.publicUrl}/oauth2/connections/up/callback`, `${h.writ.publicUrl}/oauth2/connections/other/callback`],
          scope: 'openid read:projects',
        },
      ],
    });
    agent = await h.registerAgent('agent-a');
    for (const id of ['up', 'other']) await putSecret(id);
    await registerBearerResource(h, 'up', as.apiUrl, 'up');
    mcp = await startMcpTestUpstream();
    // On "other", which nobody connects to for good in these tests.
    await h.admin.post('/resources', { id: 'up-mcp', kind: 'mcp', baseUrl: mcp.url, secretId: 'other', inject: { mode: 'bearer' } });
    await h.admin.post('/grants', {
      id: 'up-mcp',
      policy: 'permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"up-mcp");',
    });
  });
  after(async () => {
    await as.close();
    await mcp.close();
  });

  /** A `user_oauth` secret at the test upstream (a new version each time). */
  async function putSecret(id: string): Promise<void> {
    await h.admin.put(`/secrets/${id}`, {
      kind: 'user_oauth',
      authorizationEndpoint: as.authorizationEndpoint,
      tokenEndpoint: as.tokenEndpoint,
      revocationEndpoint: as.revocationEndpoint,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      scope: 'openid read:projects',
      description: `the ${id} upstream, as each person's own account`,
    });
  }

  function password(user: 'alice' | 'bob'): string {
    return h.idp.accounts.find((a) => a.username === user)?.password ?? '';
  }

  /** The whole connect as a person does it: sign in at the organisation's provider, then at the upstream. */
  function connect(user: 'alice' | 'bob', upstreamUser: string, browser?: ScriptedBrowser): Promise<Page> {
    const upstream = UPSTREAM_ACCOUNTS.find((a) => a.username === upstreamUser) ?? { username: upstreamUser, password: '' };
    return connectAccount(connectUrl(), { username: user, password: password(user) }, upstream, browser);
  }

  async function whoami(user: 'alice' | 'bob'): Promise<{ status: number; body: Record<string, unknown> }> {
    const task = await h.startTask(agent, { user, resource: 'up', details: DETAILS });
    const res = await task.fetch(`${h.resourceUri('up')}/whoami`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  test('a person who has not connected is refused with where to connect; after connecting, the upstream sees their account', async () => {
    const refused = await whoami('alice');
    assert.equal(refused.status, 403);
    assert.equal(refused.body['code'], 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED');
    assert.equal(refused.body['connect_url'], connectUrl());
    assert.equal(as.apiRequests.length, 0, 'nothing reached the upstream');

    const page = await connect('alice', 'alice-at-upstream');
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /Connected accounts/);
    assert.match(page.body, /dev:alice/);
    assert.match(page.body, /active/);

    const seen = await whoami('alice');
    assert.equal(seen.status, 200);
    assert.equal(seen.body['sub'], 'alice-at-upstream');
    assert.match(String(seen.body['echo']), /^Bearer \[writ:scrubbed\]/, 'the agent never sees the token');
    const listed = await h.admin.get<{ secret_id: string; user_id: string; status: string }[]>('/connections');
    assert.deepEqual(
      listed.map((c) => [c.secret_id, c.user_id, c.status]),
      [['up', 'dev:alice', 'active']],
    );
    assert.ok(!JSON.stringify(listed).includes('envelope'));
  });

  test("alice's calls reach the upstream as alice, bob's as bob; the refresh token is rotated and stays sealed", async () => {
    assert.equal((await whoami('bob')).status, 403);
    await connect('bob', 'bob-at-upstream');
    const before = await h.store.db.selectFrom('upstream_connections').select(['user_id', 'refresh_envelope']).execute();
    for (let i = 0; i < 3; i++) {
      assert.equal((await whoami('alice')).body['sub'], 'alice-at-upstream');
      assert.equal((await whoami('bob')).body['sub'], 'bob-at-upstream');
    }
    const tokensOf = (sub: string): Set<string | undefined> =>
      new Set(as.apiRequests.filter((r) => r.introspection?.['sub'] === sub).map((r) => r.token));
    for (const t of tokensOf('bob-at-upstream')) assert.ok(!tokensOf('alice-at-upstream').has(t), "bob's calls never carry alice's token");
    const after = await h.store.db.selectFrom('upstream_connections').select(['user_id', 'refresh_envelope']).execute();
    const stored = JSON.stringify(after);
    for (const r of as.apiRequests) assert.ok(r.token === undefined || !stored.includes(r.token));
    // Refresh tokens rotate at this upstream: what is stored now is not what was stored after connecting.
    assert.notDeepEqual(after, before);
  });

  test('a callback is used once: replayed in the same session or in another, it connects nobody', async () => {
    const upCallback = `${h.writ.publicUrl}/oauth2/connections/up/callback`;
    const bob = new ScriptedBrowser(upCallback);
    const confirm = await signIn(bob, await bob.get(connectUrl()), 'bob', password('bob'));
    const upstreamLogin = await pressButton(bob, confirm, /\/up\/connect$/);
    const held = await signIn(bob, upstreamLogin, 'bob-at-upstream', 'bob-upstream-password');
    assert.match(held.url, /\/oauth2\/connections\/up\/callback\?code=/);
    const denied = async (): Promise<{ detail?: string }[]> =>
      (await h.admin.get<{ type: string; detail?: string }[]>('/audit?limit=1000')).filter((e) => e.type === 'connection.denied');
    const before = (await denied()).length;
    const done = await bob.get(held.url, { through: true });
    assert.equal(done.status, 200, done.body);
    assert.match(done.body, /active/);
    // The same callback again, in bob's session and in alice's.
    assert.equal((await bob.get(held.url, { through: true })).status, 400);
    const alice = new ScriptedBrowser(NOWHERE);
    await signIn(alice, await alice.get(`${h.writ.publicUrl}/oauth2/connections`), 'alice', password('alice'));
    assert.equal((await alice.get(held.url)).status, 400);
    const refusals = await denied();
    assert.equal(refusals.length, before + 2, JSON.stringify(refusals));
    // Refusals nobody is identified by are audited like every anonymous denial: the first in full, a burst counted.
    assert.match(refusals[before]?.detail ?? '', /unknown, used or expired state/, JSON.stringify(refusals));
    assert.equal((await whoami('alice')).body['sub'], 'alice-at-upstream', "alice's connection is still alice's");
  });

  test("a connect's callback is refused in another person's session and on another upstream's callback", async () => {
    const otherCallback = `${h.writ.publicUrl}/oauth2/connections/other/callback`;
    const start = async (): Promise<{ browser: ScriptedBrowser; held: string }> => {
      const browser = new ScriptedBrowser(otherCallback);
      const confirm = await signIn(
        browser,
        await browser.get(`${h.writ.publicUrl}/oauth2/connections/other/connect`),
        'alice',
        password('alice'),
      );
      const upstreamLogin = await pressButton(browser, confirm, /\/other\/connect$/);
      const held = await signIn(browser, upstreamLogin, 'alice-at-upstream', 'alice-upstream-password');
      assert.match(held.url, /\/oauth2\/connections\/other\/callback\?code=/);
      return { browser, held: held.url };
    };
    // Alice's connect lands in bob's browser, signed in to Writ as bob: refused, and the state is spent.
    const a = await start();
    const bob = new ScriptedBrowser(NOWHERE);
    await signIn(bob, await bob.get(`${h.writ.publicUrl}/oauth2/connections`), 'bob', password('bob'));
    assert.equal((await bob.get(a.held)).status, 400);
    assert.equal((await a.browser.get(a.held, { through: true })).status, 400, 'spent');
    // Alice's connect of "other", delivered to the callback of "up" in her own session: refused.
    const b = await start();
    assert.equal((await b.browser.get(b.held.replace('/other/callback', '/up/callback'))).status, 400);
    assert.deepEqual(await h.admin.get('/connections?secret=other'), []);
  });

  test("a connect starts only by the person's own post: a link or a cross-site form starts nothing", async () => {
    const bob = new ScriptedBrowser(NOWHERE);
    const confirm = await signIn(bob, await bob.get(`${h.writ.publicUrl}/oauth2/connections/other/connect`), 'bob', password('bob'));
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /Connect your account at other\?/);
    const states = async (): Promise<number> =>
      (await h.store.db.selectFrom('upstream_connect_states').select('state_hash').execute()).length;
    const before = await states();
    // Following the link again (what a cross-site page can make a browser do) only shows the question.
    assert.equal((await bob.get(`${h.writ.publicUrl}/oauth2/connections/other/connect`)).status, 200);
    // A cross-site post without the page's token, or with a forged one: refused, nothing started.
    for (const csrf of ['', 'forged']) {
      assert.equal((await bob.submit(`${h.writ.publicUrl}/oauth2/connections/other/connect`, { csrf })).status, 403);
    }
    assert.equal(await states(), before, 'no connect was started');
  });

  test("on the connections page a person disconnects their own account; a post without the page's token changes nothing", async () => {
    const bob = new ScriptedBrowser(NOWHERE);
    const page = await signIn(bob, await bob.get(`${h.writ.publicUrl}/oauth2/connections`), 'bob', password('bob'));
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /dev:bob/);
    const form = /<form method="post" action="([^"]+\/disconnect)"><input type="hidden" name="csrf" value="([^"]+)">/.exec(page.body);
    assert.ok(form !== null, 'a Disconnect form for the active connection');
    const action = new URL((form[1] ?? '').replaceAll('&amp;', '&'), page.url).toString();
    // A cross-site post: the same session, no token (or another's) — refused.
    assert.equal((await bob.submit(action, { csrf: 'forged' })).status, 403);
    assert.equal((await whoami('bob')).status, 200, 'still connected');
    const after = await bob.submit(action, { csrf: form[2] ?? '' });
    assert.equal(after.status, 200);
    assert.match(after.body, /revoked/);
    const refused = await whoami('bob');
    assert.equal(refused.status, 403);
    assert.equal(refused.body['code'], 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED');
    // Connect again for the tests that follow.
    await connect('bob', 'bob-at-upstream');
    assert.equal((await whoami('bob')).body['sub'], 'bob-at-upstream');
  });

  test('a revoked connection is refused at once; so are a lapsed one and the connections of a revoked person', async () => {
    await h.admin.delete('/connections/up/dev:alice');
    const refused = await whoami('alice');
    assert.equal(refused.status, 403);
    assert.equal(refused.body['code'], 'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED');
    // Reconnect, then have the upstream revoke the grant behind Writ's back: the next refresh fails, the connection lapses.
    await connect('alice', 'alice-at-upstream');
    assert.equal((await whoami('alice')).status, 200);
    const row = await h.store.db
      .selectFrom('upstream_connections')
      .select('refresh_envelope')
      .where('user_id', '=', 'dev:alice')
      .where('secret_id', '=', 'up')
      .executeTakeFirstOrThrow();
    assert.ok(row.refresh_envelope !== null);
    // The upstream revokes alice's grant (her refresh token, opened here with the KEK as only a test may).
    const held = await new Connections({ db: h.store.db, kek: KeyEncryptionKey.fromBase64('kek-1', h.kek), now: Date.now }).refreshToken(
      'up',
      'dev:alice',
    );
    assert.ok(held !== undefined);
    await as.revoke(held.value.reveal(), CLIENT);
    // A new version of the secret drops what was minted, so the next call refreshes.
    await putSecret('up');
    const lapsed = await whoami('alice');
    assert.equal(lapsed.status, 403, JSON.stringify(lapsed.body));
    const status = (await h.admin.get<{ user_id: string; status: string }[]>('/connections?user=dev:alice'))[0]?.status;
    assert.equal(status, 'lapsed');
    // Revoking bob revokes his connections in the same transaction.
    await h.admin.post('/revocations', { target: { type: 'user', userId: 'dev:bob' }, reason: 'test' });
    assert.equal((await h.admin.get<{ status: string }[]>('/connections?user=dev:bob'))[0]?.status, 'revoked');
  });

  test('over MCP, a client that takes URL elicitation is asked to open the connect page', async () => {
    const task = await h.startTask(agent, { user: 'alice', resourceUri: h.mcpUri('up-mcp'), details: [{ type: 'mcp', tools: ['echo'] }] });
    const url = h.mcpUri('up-mcp');
    const client = new Client({ name: 'elicits', version: '1.0.0' }, { capabilities: { elicitation: { url: {} } } });
    await assert.rejects(
      client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) })),
      (err: Error & { code?: number; data?: { elicitations?: { mode: string; url: string }[] } }) => {
        assert.equal(err.code, -32042);
        assert.equal(err.data?.elicitations?.[0]?.mode, 'url');
        assert.equal(err.data?.elicitations?.[0]?.url, `${h.writ.publicUrl}/oauth2/connections/other/connect`);
        return true;
      },
    );
  });
});
