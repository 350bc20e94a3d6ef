/**
 * The authorization server under attack, each case with its exact error: PKCE missing, plain or wrong; a replayed
 * code (which ends its task); redirect URIs not registered, with an extra path or query, or pointing elsewhere (never
 * redirected to); the RFC 9207 `iss` on every answer (mix-up); `resource` missing, unknown, or changed between
 * authorize and token; metadata documents whose `client_id` differs or that sit at a private address; a consent
 * posted without its CSRF token; a sign-in's callback taken to a browser that did not start it (login CSRF); refresh reuse; DPoP binding (`dpop_jkt`, a DPoP-only resource); an ID-JAG for
 * another audience, expired, replayed, mistyped, or from an untrusted issuer. On both stores.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createDpopProof, generateDpopKey } from '@writ/agent';
import { PATHS } from '@writ/protocol';
import { authorizeAs, serveClientMetadataDocument, startIdJagProvider } from '@writ/dev/kit';
import { STORE_KINDS, TEST_DATABASE_URL } from '../helpers/stores.js';
import { startHarness } from '../helpers/writ-harness.js';

/** An HTTP API resource (DPoP only) with a scope: the grants let any stock client read it for alice. */
const GRANT = `
permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"docs")
when { principal.kind == "oauth_client" && [Writ::User::"dev:alice", Writ::User::"corp:alice"].contains(context.user) && context.method == "GET" && context.path like "/v1/*" };
`;

const REDIRECT = 'http://127.0.0.1:45200/cb';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

for (const kind of STORE_KINDS) {
  test(
    `authorization server attack cases [${kind.name}]`,
    { skip: kind.name === 'postgres' && TEST_DATABASE_URL === undefined ? 'WRIT_TEST_DATABASE_URL not set: PostgreSQL skipped' : false },
    async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'writ-as-attacks-'));
      const forged = await serveClientMetadataDocument((clientId) => ({
        client_id: `${clientId}-not-me`,
        client_name: 'Forged',
        redirect_uris: [REDIRECT],
      }));
      writeFileSync(join(dir, 'ca.pem'), forged.caPem);
      const h = await startHarness(kind, {
        config: {
          'authorization.login.provider': 'dev',
          'authorization.login.clientId': 'writ-login',
          'authorization.registration.mode': 'token',
          'authorization.registration.initialAccessToken': 'registration-token-for-tests',
          'authorization.registration.newClientStatus': 'active',
          'authorization.metadataDocuments.caFile': join(dir, 'ca.pem'),
        },
      });
      const enterprise = await startIdJagProvider({ clients: { 'host-at-idp': {} } });
      t.after(async () => {
        await h.close();
        await forged.close();
        await enterprise.close();
        rmSync(dir, { recursive: true, force: true });
      });
      await h.admin.post('/resources', {
        id: 'docs',
        baseUrl: h.upstream.url,
        secretId: 'api-key',
        inject: { mode: 'bearer' },
        scopes: { read: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] },
      });
      await h.admin.post('/grants', { id: 'stock-read', policy: GRANT });
      const issuer = h.writ.publicUrl;
      const api = h.resourceUri('docs');
      const alice = { username: 'alice', password: h.idp.accounts.find((a) => a.username === 'alice')?.password ?? '' };

      // Registration is gated by the initial access token.
      const register = (token: string | undefined, body: unknown) =>
        fetch(`${issuer}${PATHS.register}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
        });
      await t.test('registration: no or wrong initial access token, bad redirect URIs', async () => {
        const none = await register(undefined, { redirect_uris: [REDIRECT] });
        assert.equal(none.status, 401);
        assert.equal(((await none.json()) as { error: string }).error, 'invalid_token');
        assert.match(none.headers.get('www-authenticate') ?? '', /invalid_token/);
        const wrong = await register('registration-token-for-testX', { redirect_uris: [REDIRECT] });
        assert.equal(wrong.status, 401);
        for (const bad of ['http://evil.example/cb', 'javascript:alert(1)', 'https://a.example/cb#frag', 'relative/cb']) {
          const r = await register('registration-token-for-tests', { redirect_uris: [bad] });
          assert.equal(r.status, 400, bad);
          assert.equal(((await r.json()) as { error: string }).error, 'invalid_redirect_uri', bad);
        }
        const secretClient = await register('registration-token-for-tests', {
          redirect_uris: [REDIRECT],
          token_endpoint_auth_method: 'client_secret_basic',
        });
        assert.equal(((await secretClient.json()) as { error: string }).error, 'invalid_client_metadata');
      });
      const reg = await register('registration-token-for-tests', {
        client_name: 'Attack Host',
        redirect_uris: [REDIRECT, 'https://app.example/cb?x=1'],
      });
      assert.equal(reg.status, 201);
      const client = (await reg.json()) as { client_id: string; redirect_uris: string[] };
      assert.deepEqual(client.redirect_uris, [REDIRECT, 'https://app.example/cb?x=1']);

      const authorizeUrl = (over: Record<string, string | null> = {}, challenge = pkce().challenge): string => {
        const q = new URLSearchParams();
        const base: Record<string, string | null> = {
          response_type: 'code',
          client_id: client.client_id,
          redirect_uri: REDIRECT,
          state: 'st-123',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          resource: api,
          scope: 'read',
          ...over,
        };
        for (const [k, v] of Object.entries(base)) if (v !== null) q.set(k, v);
        return `${issuer}${PATHS.authorize}?${q}`;
      };
      const noFollow = (url: string) => fetch(url, { redirect: 'manual' });
      const redirectError = async (url: string): Promise<URLSearchParams> => {
        const r = await noFollow(url);
        assert.equal(r.status, 303, url);
        const loc = new URL(r.headers.get('location') ?? '');
        assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
        return loc.searchParams;
      };
      const code = async (
        challenge: string,
        extra: Record<string, string | null> = {},
        choose?: (o: string[]) => string[] | 'deny',
      ): Promise<URL> =>
        (await authorizeAs(authorizeUrl(extra, challenge), alice, { redirectUri: REDIRECT, ...(choose !== undefined ? { choose } : {}) }))
          .url;
      const token = (form: Record<string, string>, dpop?: string) =>
        fetch(`${issuer}${PATHS.token}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop !== undefined ? { dpop } : {}) },
          body: new URLSearchParams(form),
        });
      const proof = async (key: Awaited<ReturnType<typeof generateDpopKey>>) =>
        createDpopProof(key, { htm: 'POST', htu: `${issuer}${PATHS.token}` });

      await t.test('PKCE: missing, plain, malformed → invalid_request at the redirect, with state and iss', async () => {
        for (const over of [
          { code_challenge: null },
          { code_challenge_method: 'plain' },
          { code_challenge_method: null },
          { code_challenge: 'short' },
        ]) {
          const p = await redirectError(authorizeUrl(over));
          assert.equal(p.get('error'), 'invalid_request', JSON.stringify(over));
          assert.equal(p.get('state'), 'st-123');
          assert.equal(p.get('iss'), issuer);
        }
      });

      await t.test('response_type and resource: unsupported_response_type, invalid_target', async () => {
        assert.equal((await redirectError(authorizeUrl({ response_type: 'token' }))).get('error'), 'unsupported_response_type');
        assert.equal((await redirectError(authorizeUrl({ resource: null }))).get('error'), 'invalid_target');
        assert.equal((await redirectError(authorizeUrl({ resource: `${issuer}/r/nope` }))).get('error'), 'invalid_target');
        assert.equal((await redirectError(authorizeUrl({ resource: 'https://elsewhere.example/r/api' }))).get('error'), 'invalid_target');
      });

      await t.test('redirect URIs: unregistered, extra path, extra query, another host — a page, never a redirect', async () => {
        for (const bad of [
          `${REDIRECT}/extra`,
          `${REDIRECT}?x=1`,
          'https://evil.example/cb',
          'https://app.example/cb',
          'https://app.example/cb?x=2',
          'http://127.0.0.1:45200/other',
        ]) {
          const r = await noFollow(authorizeUrl({ redirect_uri: bad }));
          assert.equal(r.status, 400, bad);
          assert.equal(r.headers.get('location'), null, bad);
          assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        }
        // A loopback redirect matches on any port (RFC 8252 §7.3); nothing else about it is relaxed.
        const other = await noFollow(authorizeUrl({ redirect_uri: 'http://127.0.0.1:45299/cb', response_type: 'token' }));
        assert.equal(other.status, 303);
        const otherLocation = new URL(other.headers.get('location') ?? '');
        assert.equal(`${otherLocation.origin}${otherLocation.pathname}`, 'http://127.0.0.1:45299/cb');
        assert.equal(otherLocation.searchParams.get('error'), 'unsupported_response_type');
        const unknown = await noFollow(authorizeUrl({ client_id: 'client-0000000000000000' }));
        assert.equal(unknown.status, 400);
        assert.equal(unknown.headers.get('location'), null);
      });

      await t.test('metadata documents: client_id that differs, and one at a private address', async () => {
        const differs = await noFollow(authorizeUrl({ client_id: forged.clientId }));
        assert.equal(differs.status, 400);
        assert.equal(differs.headers.get('location'), null);
        assert.match(await differs.text(), /metadata document is invalid/);
        const privateAddress = await noFollow(authorizeUrl({ client_id: 'https://10.255.255.1/client.json' }));
        assert.equal(privateAddress.status, 400);
        assert.match(await privateAddress.text(), /could not be fetched/);
      });

      await t.test(
        'a code: single use (the replay ends its task), PKCE verified, redirect_uri and resource unchanged, iss present',
        async () => {
          const { verifier, challenge } = pkce();
          const back = await code(challenge);
          assert.equal(back.searchParams.get('iss'), issuer);
          assert.equal(back.searchParams.get('state'), 'st-123');
          const c = back.searchParams.get('code') ?? '';
          const base = {
            grant_type: 'authorization_code',
            code: c,
            redirect_uri: REDIRECT,
            client_id: client.client_id,
            code_verifier: verifier,
          };
          const key = await generateDpopKey();
          const first = await token(base, await proof(key));
          assert.equal(first.status, 200);
          const body = (await first.json()) as { access_token: string; token_type: string; task_id: string; refresh_token: string };
          assert.equal(body.token_type, 'DPoP');
          const replay = await token(base, await proof(key));
          assert.equal(replay.status, 400);
          assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
          const task = await h.admin.get<{ status: string }>(`/tasks/${body.task_id}`);
          assert.equal(task.status, 'revoked');
          const refresh = await token(
            { grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: client.client_id },
            await proof(key),
          );
          assert.equal(((await refresh.json()) as { error: string }).error, 'invalid_grant');
        },
      );

      await t.test(
        'token endpoint checks: wrong verifier, missing verifier, other redirect_uri, changed resource, other client',
        async () => {
          const cases: Array<[Record<string, string>, string]> = [
            [{ code_verifier: pkce().verifier }, 'invalid_grant'],
            [{ code_verifier: '' }, 'invalid_request'],
            [{ redirect_uri: 'http://127.0.0.1:45200/cb2' }, 'invalid_grant'],
            [{ resource: h.resourceUri('api') }, 'invalid_target'],
          ];
          for (const [over, expected] of cases) {
            const { verifier, challenge } = pkce();
            const c = (await code(challenge)).searchParams.get('code') ?? '';
            const form: Record<string, string> = {
              grant_type: 'authorization_code',
              code: c,
              redirect_uri: REDIRECT,
              client_id: client.client_id,
              code_verifier: verifier,
              ...over,
            };
            if (form['code_verifier'] === '') delete form['code_verifier'];
            const r = await token(form, await proof(await generateDpopKey()));
            assert.equal(((await r.json()) as { error: string }).error, expected, JSON.stringify(over));
          }
          const other = await register('registration-token-for-tests', { redirect_uris: [REDIRECT] });
          const otherId = ((await other.json()) as { client_id: string }).client_id;
          const { verifier, challenge } = pkce();
          const c = (await code(challenge)).searchParams.get('code') ?? '';
          const r = await token(
            { grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, client_id: otherId, code_verifier: verifier },
            await proof(await generateDpopKey()),
          );
          assert.equal(((await r.json()) as { error: string }).error, 'invalid_grant');
        },
      );

      await t.test(
        'DPoP: a DPoP-only resource refuses a proof-less redemption; dpop_jkt binds the code to its key; refresh needs the key',
        async () => {
          const key = await generateDpopKey();
          const { verifier, challenge } = pkce();
          const c = (await code(challenge, { dpop_jkt: key.jkt })).searchParams.get('code') ?? '';
          const base = {
            grant_type: 'authorization_code',
            code: c,
            redirect_uri: REDIRECT,
            client_id: client.client_id,
            code_verifier: verifier,
          };
          // Without a proof: refused (and the code is spent).
          const bare = await token(base);
          assert.equal(((await bare.json()) as { error: string }).error, 'invalid_dpop_proof');
          const { verifier: v2, challenge: c2 } = pkce();
          const code2 = (await code(c2, { dpop_jkt: key.jkt })).searchParams.get('code') ?? '';
          const wrongKey = await token({ ...base, code: code2, code_verifier: v2 }, await proof(await generateDpopKey()));
          assert.equal(((await wrongKey.json()) as { error: string }).error, 'invalid_dpop_proof');
          const { verifier: v3, challenge: c3 } = pkce();
          const code3 = (await code(c3, { dpop_jkt: key.jkt })).searchParams.get('code') ?? '';
          const ok = await token({ ...base, code: code3, code_verifier: v3 }, await proof(key));
          const body = (await ok.json()) as { access_token: string; refresh_token: string; token_type: string };
          assert.equal(body.token_type, 'DPoP');
          // Presented as a bearer token at the resource: refused (a downgrade).
          const asBearer = await fetch(`${api}/v1/projects`, { headers: { authorization: `Bearer ${body.access_token}` } });
          assert.equal(asBearer.status, 401);
          const asDpop = await fetch(`${api}/v1/projects`, {
            headers: {
              authorization: `DPoP ${body.access_token}`,
              dpop: await createDpopProof(key, { htm: 'GET', htu: `${api}/v1/projects`, accessToken: body.access_token }),
            },
          });
          assert.equal(asDpop.status, 200);
          const stolen = await token({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: client.client_id });
          assert.equal(((await stolen.json()) as { error: string }).error, 'invalid_dpop_proof');
          const rotated = await token(
            { grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: client.client_id },
            await proof(key),
          );
          assert.equal(rotated.status, 200);
        },
      );

      await t.test(
        'consent: a POST without the CSRF token or from another origin is refused and decides nothing; untick narrows the task',
        async () => {
          const { challenge } = pkce();
          const noCsrf = await fetch(`${issuer}${PATHS.consent}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ request: 'x'.repeat(43), decision: 'approve', choice: 'scope:read' }),
            redirect: 'manual',
          });
          assert.equal(noCsrf.status, 403);
          assert.equal(noCsrf.headers.get('location'), null);
          const denied = await code(challenge, {}, () => 'deny');
          assert.equal(denied.searchParams.get('error'), 'access_denied');
          assert.equal(denied.searchParams.get('iss'), issuer);
          const none = await code(pkce().challenge, {}, () => []);
          assert.equal(none.searchParams.get('error'), 'access_denied');
        },
      );

      await t.test(
        "login CSRF: the sign-in's callback, taken to a browser that did not start it, is refused before the code is redeemed",
        async () => {
          // The attacker's browser starts the sign-in (and keeps its binding cookie); the provider's answer is handed to a victim.
          const started = await noFollow(authorizeUrl());
          assert.equal(started.status, 303);
          const binding = (started.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
          assert.match(binding, /^writ_login_[A-Za-z0-9_-]{16}=[A-Za-z0-9_-]{43}$/);
          const { url: callback } = await authorizeAs(started.headers.get('location') ?? '', alice, {
            redirectUri: `${issuer}${PATHS.loginCallback}`,
          });
          const victim = await noFollow(callback.href);
          assert.equal(victim.status, 400);
          assert.match(await victim.text(), /not started in this browser/);
          assert.equal((victim.headers.get('set-cookie') ?? '').includes('writ_session='), false, 'no session for the victim');
          // Another browser's cookie does not do either; and the sign-in is spent, so the attacker's own cookie comes too late.
          const other = await noFollow(authorizeUrl());
          const otherCookie = (other.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
          const { url: second } = await authorizeAs(other.headers.get('location') ?? '', alice, {
            redirectUri: `${issuer}${PATHS.loginCallback}`,
          });
          assert.equal((await fetch(second.href, { redirect: 'manual', headers: { cookie: binding } })).status, 400);
          assert.equal((await fetch(second.href, { redirect: 'manual', headers: { cookie: otherCookie } })).status, 400);
          // Its own browser, with its own cookie, is sent on to consent.
          const third = await noFollow(authorizeUrl());
          const thirdCookie = (third.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
          const { url: own } = await authorizeAs(third.headers.get('location') ?? '', alice, {
            redirectUri: `${issuer}${PATHS.loginCallback}`,
          });
          const ok = await fetch(own.href, { redirect: 'manual', headers: { cookie: thirdCookie } });
          assert.equal(ok.status, 303);
          assert.match(ok.headers.get('location') ?? '', /\/oauth2\/consent\?request=/);
        },
      );

      await t.test('ID-JAG: accepted from a trusted issuer for this audience and client; refused otherwise', async () => {
        await h.admin.post('/identity-providers', {
          id: 'corp',
          issuer: enterprise.issuer,
          discovery: true,
          audience: 'host-at-idp',
          tokenTypes: ['urn:ietf:params:oauth:token-type:id-jag'],
        });
        const now = Math.floor(Date.now() / 1000);
        const claims = {
          iss: enterprise.issuer,
          sub: 'alice',
          aud: issuer,
          client_id: client.client_id,
          resource: api,
          scope: 'read',
          iat: now,
          exp: now + 300,
        };
        const grant = async (jag: string, dpop = true) =>
          token(
            { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jag, client_id: client.client_id },
            dpop ? await proof(await generateDpopKey()) : undefined,
          );
        const cases: Array<[string, Promise<string>]> = [
          ['another audience', enterprise.signIdJag({ ...claims, aud: 'https://other-as.example', jti: 'a1' })],
          ['expired', enterprise.signIdJag({ ...claims, iat: now - 900, exp: now - 600, jti: 'a2' })],
          ['another client', enterprise.signIdJag({ ...claims, client_id: 'client-ffffffffffffffff', jti: 'a3' })],
          ['wrong typ', enterprise.signIdJag({ ...claims, jti: 'a4' }, { typ: 'JWT' })],
          ['no jti', enterprise.signIdJag({ ...claims })],
        ];
        for (const [what, jag] of cases) {
          const r = await grant(await jag);
          assert.equal(((await r.json()) as { error: string }).error, 'invalid_grant', what);
        }
        const untrusted = await startIdJagProvider({ clients: {} });
        try {
          const r = await grant(await untrusted.signIdJag({ ...claims, iss: untrusted.issuer, jti: 'u1' }));
          assert.equal(((await r.json()) as { error: string }).error, 'invalid_grant');
        } finally {
          await untrusted.close();
        }
        const good = await enterprise.signIdJag({ ...claims, jti: 'ok-1' });
        const r = await grant(good);
        assert.equal(r.status, 200, await r.clone().text());
        const body = (await r.json()) as { token_type: string; authorization_details: unknown[]; refresh_token?: string };
        assert.equal(body.token_type, 'DPoP');
        assert.equal(body.refresh_token, undefined);
        assert.deepEqual(body.authorization_details, [{ type: 'http', locations: [api], actions: ['GET'], paths: ['/v1/*'] }]);
        const replay = await grant(good);
        assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');
      });
    },
  );
}
