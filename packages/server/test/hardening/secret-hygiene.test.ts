/**
 * Upstream credentials of every kind never leave the vault's memory except into the one outgoing request: not in
 * logs (at debug level), metrics, audit records, admin answers, error bodies or anything the agent receives — for a
 * static value, a client-credentials secret and the token Writ mints from it, a token-exchange secret and the token
 * issued for the call's user, including when the upstream echoes it
 * and when minting fails.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { startUpstreamAuthorizationServer, type UpstreamAuthorizationServer } from '@writ/dev';
import { createLogger } from '../../src/observability/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { registerBearerResource, useHarness, type TestAgent } from '../helpers/writ-harness.js';

const STATIC_VALUE = 'static-upstream-key-7f3a9c1e5b';
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
  const h = useHarness(kind, { logger });
  let as: UpstreamAuthorizationServer;
  let agent: TestAgent;

  before(async () => {
    as = await startUpstreamAuthorizationServer({
      clients: [{ client_id: 'hygiene', client_secret: CLIENT_SECRET, scope: 'read:projects' }],
      trustAssertionsFrom: { issuer: h.writ.publicUrl, jwksUri: `${h.writ.publicUrl}/.well-known/jwks.json` },
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
    for (const [id, secret] of [
      ['static-r', 'static-kind'],
      ['minted-r', 'minted-kind'],
      ['failing-r', 'failing-kind'],
      ['exchanged-r', 'exchanged-kind'],
    ] as const) {
      await registerBearerResource(h, id, as.apiUrl, secret);
    }
  });
  after(() => as.close());

  test('no kind of upstream credential reaches logs, metrics, audit, admin answers or the agent', async () => {
    const agentSaw: string[] = [];
    for (const r of ['static-r', 'minted-r', 'failing-r', 'exchanged-r']) {
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
