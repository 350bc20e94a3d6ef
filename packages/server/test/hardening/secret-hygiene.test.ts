/**
 * Upstream credentials of every kind never leave the vault's memory except into the one outgoing request: not in
 * logs (at debug level), metrics, audit records, admin answers, error bodies or anything the agent receives — for a
 * static value, a client-credentials secret and the token Writ mints from it, a token-exchange secret and the token
 * issued for the call's user, and a person's connected account (its refresh token and the access tokens minted from
 * it), including when the upstream echoes them and when minting fails.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { startUpstreamAuthorizationServer, type UpstreamAuthorizationServer } from '@writ/dev';
import { KeyEncryptionKey } from '../../src/crypto/index.js';
import { createLogger } from '../../src/observability/index.js';
import { Connections } from '../../src/vault/index.js';
import { AUTHORIZATION_SERVER_CONFIG } from '../helpers/authorization-harness.js';
import { connectAccount } from '../helpers/connect-account.js';
import { describeEachStore } from '../helpers/stores.js';
import { registerBearerResource, useHarness, type TestAgent } from '../helpers/writ-harness.js';

const STATIC_VALUE = 'static-upstream-key-7f3a9c1e5b';
const UPSTREAM_ALICE = { username: 'alice-upstream-account', password: 'alice-upstream-password-91c2' };
const CLIENT_SECRET = 'client-secret-for-hygiene-4d8e2a';
const DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/whoami'] }];

describeEachStore('secret hygiene', (kind) => {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  });
  // Sign-in at the organisation's provider, for the connected account.
  const h = useHarness(kind, { logger, config: AUTHORIZATION_SERVER_CONFIG });
  let as: UpstreamAuthorizationServer;
  let agent: TestAgent;

  before(async () => {
    as = await startUpstreamAuthorizationServer({
      clients: [{ client_id: 'hygiene', client_secret: CLIENT_SECRET, scope: 'read:projects' }],
      trustAssertionsFrom: { issuer: h.writ.publicUrl, jwksUri: `${h.writ.publicUrl}/.well-known/jwks.json` },
      accounts: [UPSTREAM_ALICE],
      codeClients: [
        {
          client_id: 'hygiene-connect',
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${h.writ.publicUrl}/oauth2/connections/connected-kind/callback`],
          scope: 'openid read:projects',
        },
      ],
    });
    agent = await h.registerAgent('agent-a');
    await h.admin.put('/secrets/static-kind', { value: STATIC_VALUE });
    await h.admin.put('/secrets/minted-kind', {
      kind: 'oauth_client_credentials',
      tokenEndpoint: as.tokenEndpoint,
      clientId: 'hygiene',
      clientSecret: CLIENT_SECRET,
    });
    await h.admin.put('/secrets/failing-kind', {
      kind: 'oauth_client_credentials',
      tokenEndpoint: as.tokenEndpoint,
      clientId: 'hygiene',
      clientSecret: `${CLIENT_SECRET}-wrong`,
    });
    await h.admin.put('/secrets/exchanged-kind', {
      kind: 'token_exchange',
      tokenEndpoint: as.tokenExchangeEndpoint,
      clientId: 'hygiene',
      clientSecret: CLIENT_SECRET,
    });
    await h.admin.put('/secrets/connected-kind', {
      kind: 'user_oauth',
      authorizationEndpoint: as.authorizationEndpoint,
      tokenEndpoint: as.tokenEndpoint,
      clientId: 'hygiene-connect',
      clientSecret: CLIENT_SECRET,
      scope: 'openid read:projects',
    });
    for (const [id, secret] of [
      ['static-r', 'static-kind'],
      ['minted-r', 'minted-kind'],
      ['failing-r', 'failing-kind'],
      ['exchanged-r', 'exchanged-kind'],
      ['connected-r', 'connected-kind'],
    ] as const) {
      await registerBearerResource(h, id, as.apiUrl, secret);
    }
  });
  after(() => as.close());

  test('no kind of upstream credential reaches logs, metrics, audit, admin answers or the agent', async () => {
    const agentSaw: string[] = [];
    const alice = { username: 'alice', password: h.idp.accounts.find((a) => a.username === 'alice')?.password ?? '' };
    const connected = await connectAccount(`${h.writ.publicUrl}/oauth2/connections/connected-kind/connect`, alice, UPSTREAM_ALICE);
    agentSaw.push(connected.body);
    for (const r of ['static-r', 'minted-r', 'failing-r', 'exchanged-r', 'connected-r']) {
      const task = await h.startTask(agent, { resource: r, details: DETAILS });
      const res = await task.fetch(`${h.resourceUri(r)}/whoami`);
      agentSaw.push(String(res.status), JSON.stringify([...res.headers]), await res.text());
    }
    const minted = as.apiRequests.map((q) => q.token).filter((t): t is string => t !== undefined && t !== STATIC_VALUE);
    assert.ok(minted.length >= 2, 'a client-credentials token and an exchanged token were minted and used');
    assert.ok(
      as.apiRequests.some((q) => q.introspection?.['sub'] === 'dev:alice'),
      "the exchanged token is alice's",
    );
    assert.ok(
      as.apiRequests.some((q) => q.introspection?.['sub'] === UPSTREAM_ALICE.username),
      "the connected account is alice's",
    );
    // The refresh token the connection holds: opened here with the KEK, as only a test may, to look for it everywhere.
    const refresh = await new Connections({ db: h.store.db, kek: KeyEncryptionKey.fromBase64('kek-1', h.kek), now: Date.now }).refreshToken(
      'connected-kind',
      'dev:alice',
    );
    assert.ok(refresh !== undefined);
    minted.push(refresh.value.reveal());
    await h.writ.flushAudit();
    const outputs = {
      logs: lines.join(''),
      metrics: await (await fetch(`${h.writ.url}/metrics`)).text(),
      audit: JSON.stringify(await h.admin.get('/audit?limit=1000')),
      admin: JSON.stringify([await h.admin.get('/secrets'), await h.admin.get('/secrets/minted-kind'), await h.admin.get('/resources')]),
      agent: agentSaw.join('\n'),
    };
    assert.ok(outputs.logs.length > 0, 'debug logs were written');
    for (const [where, text] of Object.entries(outputs)) {
      for (const value of [STATIC_VALUE, CLIENT_SECRET, ...minted])
        assert.ok(!text.includes(value), `${where} holds an upstream credential`);
    }
    assert.match(outputs.agent, /ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE/);
  });
});
