/**
 * What happens around a consented task: a client that registered itself waits for an operator when configured so;
 * a remembered consent is reused, listed and withdrawn (which ends its tasks); refresh stops at once when the user or
 * the key is revoked or the task has expired; a bearer redemption is audited as such; an ID-JAG obtained from a test
 * enterprise IdP's token exchange (the draft's first step) becomes a task token; and the session cookie carries the
 * attributes it must. On both stores.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createDpopProof, generateDpopKey, type DpopKey } from '@writ/agent';
import { ID_JAG, PATHS, TOKEN_TYPE } from '@writ/protocol';
import { authorizeAs, startIdJagProvider } from '@writ/dev/kit';
import { Sessions } from '../../src/authorization/index.js';
import { STORE_KINDS, TEST_DATABASE_URL } from '../helpers/stores.js';
import { startAuthorizationHarness } from '../helpers/authorization-harness.js';
import { failInserts } from '../helpers/failing-inserts.js';

const REDIRECT = 'http://127.0.0.1:45300/cb';
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

for (const kind of STORE_KINDS) {
  const skip = kind.name === 'postgres' && TEST_DATABASE_URL === undefined ? 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped' : false;
  test(`authorization server lifecycle [${kind.name}]`, { skip }, async (t) => {
    const h = await startAuthorizationHarness(kind, {
      tools: ['echo', 'get-sum'],
      config: { 'authorization.registration.newClientStatus': 'pending' },
    });
    t.after(() => h.close());
    const issuer = h.writ.publicUrl;
    const resource = h.mcpUri('everything');
    const reg = await fetch(`${issuer}${PATHS.register}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Lifecycle Host', redirect_uris: [REDIRECT] }),
    });
    const clientId = ((await reg.json()) as { client_id: string }).client_id;
    const cli = (args: string[]): Promise<string> =>
      new Promise((resolve, reject) =>
        execFile(
          process.execPath,
          [CLI, ...args],
          { env: { PATH: process.env['PATH'] ?? '', WRIT_URL: h.writ.url, WRIT_ADMIN_TOKEN: h.adminToken }, timeout: 30_000 },
          (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`writ ${args.join(' ')}: ${stderr}`))),
        ),
      );
    const authorize = (verifier: string, extra: Record<string, string> = {}): string =>
      `${issuer}${PATHS.authorize}?${new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT,
        state: 'st',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource,
        ...extra,
      })}`;
    const token = async (form: Record<string, string>, key?: DpopKey): Promise<Response> =>
      fetch(`${issuer}${PATHS.token}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(key !== undefined ? { dpop: await createDpopProof(key, { htm: 'POST', htu: `${issuer}${PATHS.token}` }) } : {}),
        },
        body: new URLSearchParams(form),
      });
    /** Consent (or a remembered one) → code → tokens. */
    const sign = async (
      o: { key?: DpopKey; remember?: boolean; duration?: number } = {},
    ): Promise<{ offered: string[]; body: { access_token: string; refresh_token: string; task_id: string; token_type: string } }> => {
      const verifier = randomBytes(32).toString('base64url');
      const r = await authorizeAs(authorize(verifier), h.alice, {
        redirectUri: REDIRECT,
        ...(o.remember !== undefined ? { remember: o.remember } : {}),
        ...(o.duration !== undefined ? { duration: o.duration } : {}),
      });
      const code = r.url.searchParams.get('code');
      assert.ok(code !== null, r.url.href);
      const res = await token(
        { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier },
        o.key,
      );
      assert.equal(res.status, 200);
      return { offered: r.offered, body: (await res.json()) as never };
    };

    await t.test('a self-registered client waits as pending until an operator activates it', async () => {
      const agents = await h.admin.get<Array<{ id: string; kind: string; status: string; owner: string }>>('/agents');
      const agent = agents.find((a) => a.id === clientId);
      assert.equal(agent?.kind, 'oauth_client');
      assert.equal(agent?.status, 'pending');
      assert.equal(agent?.owner, 'unassigned');
      const r = await fetch(authorize(randomBytes(32).toString('base64url')), { redirect: 'manual' });
      const back = new URL(r.headers.get('location') ?? '');
      assert.equal(back.searchParams.get('error'), 'unauthorized_client');
      assert.equal(back.searchParams.get('iss'), issuer);
      await h.admin.post(`/agents/${clientId}/status`, { status: 'active' });
      const { body } = await sign();
      assert.equal(body.token_type, 'Bearer');
    });

    await t.test('a bearer redemption is audited as bearer', async () => {
      await h.writ.flushAudit();
      const issued = await h.admin.get<Array<{ data: { bearer?: boolean; grant_type?: string } }>>(
        `/audit?type=token.issued&agent=${clientId}`,
      );
      assert.ok(issued.some((e) => e.data.bearer === true && e.data.grant_type === 'authorization_code'));
    });

    await t.test('a remembered consent is reused, listed, and withdrawn — which ends its tasks', async () => {
      const first = await sign({ remember: true });
      assert.deepEqual([...first.offered].sort(), ['tool:echo', 'tool:get-sum']);
      const again = await sign();
      assert.deepEqual(again.offered, [], 'no consent page the second time');
      // The operator's view and action, through the CLI as it is run.
      const listed = JSON.parse(await cli(['consents', 'list', '--user', 'dev:alice', '--json'])) as Array<{
        id: string;
        clientId: string;
      }>;
      assert.equal(listed.length, 1);
      assert.equal(listed[0]?.clientId, clientId);
      await cli(['consents', 'revoke', listed[0]?.id ?? '', '--reason', 'test']);
      const all = await h.admin.get<Array<{ status: string }>>('/consents?user=dev:alice&all=true');
      assert.deepEqual(
        all.map((c) => c.status),
        ['revoked'],
      );
      for (const id of [first.body.task_id, again.body.task_id]) {
        assert.equal((await h.admin.get<{ status: string }>(`/tasks/${id}`)).status, 'revoked');
      }
      const refresh = await token({ grant_type: 'refresh_token', refresh_token: again.body.refresh_token, client_id: clientId });
      assert.equal(((await refresh.json()) as { error: string }).error, 'invalid_grant');
      const third = await sign();
      assert.equal(third.offered.length, 2, 'the page is shown again');
    });

    await t.test('ID-JAG from an enterprise IdP token exchange becomes a task token', async () => {
      const idp = await startIdJagProvider({ clients: { 'host-at-corp': { [issuer]: clientId } } });
      try {
        await h.admin.post('/identity-providers', {
          id: 'corp',
          issuer: idp.issuer,
          discovery: true,
          audience: 'host-at-corp',
          tokenTypes: [ID_JAG.tokenType],
        });
        await h.admin.post('/grants', {
          id: 'corp-hosts',
          policy: `permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"everything")
when { principal.kind == "oauth_client" && context.user == Writ::User::"corp:carol" && context.tool == "echo" };`,
        });
        // Step 1, at the IdP: the client exchanges carol's ID token for an ID-JAG naming Writ and the resource.
        const exchanged = await fetch(idp.tokenEndpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            requested_token_type: ID_JAG.tokenType,
            subject_token: await idp.idTokenFor('carol', { clientId: 'host-at-corp' }),
            subject_token_type: TOKEN_TYPE.idToken,
            audience: issuer,
            resource,
            client_id: 'host-at-corp',
          }),
        });
        assert.equal(exchanged.status, 200);
        const jag = ((await exchanged.json()) as { access_token: string; issued_token_type: string }).access_token;
        // Step 2, at Writ: the jwt-bearer grant; the grants decide (echo only, for carol).
        const res = await token({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jag, client_id: clientId });
        assert.equal(res.status, 200, await res.clone().text());
        const body = (await res.json()) as { token_type: string; authorization_details: Array<{ tools?: string[] }>; task_id: string };
        assert.equal(body.token_type, 'Bearer');
        assert.deepEqual(
          body.authorization_details.flatMap((d) => d.tools ?? []),
          ['echo'],
        );
        const task = await h.admin.get<{ userId: string; agentId: string }>(`/tasks/${body.task_id}`);
        assert.equal(task.userId, 'corp:carol');
        assert.equal(task.agentId, clientId);
      } finally {
        await idp.close();
      }
    });

    await t.test('a refresh token rotates once: concurrent uses get one successor, and a failed rotation spends nothing', async () => {
      const db = h.writ.store.db;
      // A rotation whose access-token row cannot be written leaves the presented refresh token unspent.
      const first = await sign();
      const restore = await failInserts(kind.name, db, 'tokens');
      const refresh = { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: clientId };
      try {
        assert.equal((await token(refresh)).status, 500);
      } finally {
        await restore();
      }
      const families = await db.selectFrom('oauth_refresh_tokens').select('used_at').where('task_id', '=', first.body.task_id).execute();
      assert.deepEqual(
        families.map((f) => f.used_at),
        [null],
        'neither used up nor succeeded',
      );
      // Eight uses at once of the token that is still good: exactly one rotates it.
      const answers = await Promise.all(Array.from({ length: 8 }, () => token(refresh)));
      const bodies = (await Promise.all(answers.map((a) => a.json()))) as Array<{ refresh_token?: string; error?: string }>;
      assert.equal(answers.filter((a) => a.status === 200).length, 1, JSON.stringify(bodies));
      for (const b of bodies.filter((x) => x.refresh_token === undefined)) assert.equal(b.error, 'invalid_grant');
      const rows = await db
        .selectFrom('oauth_refresh_tokens')
        .select(['used_at', 'revoked_at'])
        .where('task_id', '=', first.body.task_id)
        .execute();
      assert.equal(rows.length, 2, 'one successor');
      assert.equal(rows.filter((r) => r.used_at !== null).length, 1);
    });

    await t.test('refresh ends at once when the key or the user is revoked, and when the task expires', async () => {
      const key = await generateDpopKey();
      const byKey = await sign({ key });
      assert.equal(byKey.body.token_type, 'DPoP');
      await h.admin.post('/revocations', { target: { type: 'key', jkt: key.jkt }, reason: 'test' });
      const afterKey = await token({ grant_type: 'refresh_token', refresh_token: byKey.body.refresh_token, client_id: clientId }, key);
      assert.equal(((await afterKey.json()) as { error: string }).error, 'invalid_grant');

      // Writ's clock moves an hour ahead (the identity providers' stay: nothing below depends on them agreeing).
      const expiring = await sign({ duration: 3600 });
      h.clock.advance(3601);
      const afterExpiry = await token({ grant_type: 'refresh_token', refresh_token: expiring.body.refresh_token, client_id: clientId });
      assert.equal(((await afterExpiry.json()) as { error: string }).error, 'invalid_grant');

      const byUser = await sign();
      await h.admin.post('/revocations', { target: { type: 'user', userId: 'dev:alice' }, reason: 'test' });
      const afterUser = await token({ grant_type: 'refresh_token', refresh_token: byUser.body.refresh_token, client_id: clientId });
      assert.equal(((await afterUser.json()) as { error: string }).error, 'invalid_grant');
    });

    await t.test('an MCP resource that cannot list its tools: temporarily_unavailable at the redirect, not an error page', async () => {
      await h.admin.post('/resources', { id: 'unreachable', kind: 'mcp', baseUrl: 'http://127.0.0.1:9/mcp' });
      const verifier = randomBytes(32).toString('base64url');
      const r = await authorizeAs(authorize(verifier, { resource: h.mcpUri('unreachable') }), h.alice, { redirectUri: REDIRECT });
      assert.equal(r.url.searchParams.get('error'), 'temporarily_unavailable');
      assert.equal(r.url.searchParams.get('iss'), issuer);
    });

    await t.test('session cookies: HttpOnly, SameSite=Lax, Path=/oauth2/, Secure unless plain http on loopback', async () => {
      for (const secure of [false, true]) {
        const sessions = new Sessions({ db: h.writ.store.db, sessionSeconds: 600, secureCookies: secure, now: Date.now });
        const { setCookie } = await sessions.create({ userId: 'dev:alice', claims: {} });
        assert.match(setCookie, /^writ_session=[A-Za-z0-9_-]{43}; Path=\/oauth2\/; Max-Age=600; HttpOnly; SameSite=Lax/);
        assert.equal(setCookie.includes('; Secure'), secure);
        const value = setCookie.slice('writ_session='.length, setCookie.indexOf(';'));
        assert.equal((await sessions.read(`writ_session=${value}`))?.user.userId, 'dev:alice');
        assert.equal(await sessions.read(`writ_session=${value}; writ_session=${value}`), undefined, 'a cookie named twice is ambiguous');
      }
      const stored = await h.writ.store.db.selectFrom('oauth_sessions').select('id_hash').execute();
      assert.ok(
        stored.every((r) => /^[A-Za-z0-9_-]{43}$/.test(r.id_hash)),
        'only digests are stored',
      );
    });
  });
}
