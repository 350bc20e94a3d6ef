/**
 * The minter's clock (client credentials), against a real authorization server (`oidc-provider`): a token is handed out until
 * `refreshBeforeSeconds` before it expires (or half its life, if sooner), then replaced by one request however many
 * calls ask; a token the upstream refused is replaced once, and a newer one is not dropped by a late refusal.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent } from 'undici';
import { startUpstreamAuthorizationServer, type UpstreamAuthorizationServer } from '@writ/dev';
import { SecretValue } from '../../src/crypto/index.js';
import { UpstreamTokenMinter, type SecretEntry } from '../../src/vault/index.js';

let as: UpstreamAuthorizationServer;
const dispatcher = new Agent();
let clock = 1_800_000_000_000;
const WHO = { userId: 'dev:alice', agentId: 'agent-a', taskId: 'task_1' };
/** Client credentials sign nothing. */
const NO_ASSERTIONS = {
  sign(): string {
    throw new Error('not for client credentials');
  },
};

before(async () => {
  as = await startUpstreamAuthorizationServer({
    clients: [{ client_id: 'c', client_secret: 'client-secret-1234567', scope: 'read:projects' }],
  });
});
after(async () => {
  await as.close();
  await dispatcher.close();
});

/** A minter on the test clock, for client-credentials secrets (it signs nothing). */
function newMinter(): UpstreamTokenMinter {
  return new UpstreamTokenMinter({ dispatcher, issuer: 'http://writ.test', assertions: NO_ASSERTIONS, now: () => clock, timeoutMs: 5000 });
}

function entry(refreshBeforeSeconds: number, version = 1): SecretEntry {
  return {
    id: 'cc',
    kind: 'oauth_client_credentials',
    version,
    config: {
      tokenEndpoint: as.tokenEndpoint,
      clientId: 'c',
      authMethod: 'client_secret_basic',
      scope: 'read:projects',
      refreshBeforeSeconds,
    },
    value: new SecretValue(JSON.stringify({ clientSecret: 'client-secret-1234567' })),
  };
}

test('reused until refreshBeforeSeconds before expiry, then one request for many callers', async () => {
  const minter = newMinter();
  const e = entry(60);
  const start = as.tokenRequests.total;
  const first = await minter.token(e, {}, WHO);
  assert.equal(as.tokenRequests.total, start + 1);
  // 600 s tokens, replaced 60 s early.
  clock += 539_000;
  assert.equal(await minter.token(e, {}, WHO), first, 'still fresh at +539 s');
  clock += 2_000;
  const burst = await Promise.all(Array.from({ length: 10 }, () => minter.token(e, {}, WHO)));
  assert.equal(as.tokenRequests.total, start + 2, 'one request at +541 s, for ten callers');
  assert.equal(new Set(burst).size, 1);
  assert.notEqual(burst[0]?.value.reveal(), first.value.reveal());
});

test('a short-lived token is replaced at half its life', async () => {
  const short = await startUpstreamAuthorizationServer({
    clients: [{ client_id: 'c', client_secret: 'client-secret-1234567', scope: 'read:projects' }],
    tokenTtlSeconds: 60,
  });
  try {
    const minter = newMinter();
    const e = { ...entry(60), config: { ...entry(60).config, tokenEndpoint: short.tokenEndpoint } };
    const t = await minter.token(e, {}, WHO);
    assert.equal(t.refreshAt, clock + 30_000);
  } finally {
    await short.close();
  }
});

test('a refused token is replaced once; a late refusal of an older token keeps the newer one', async () => {
  const minter = newMinter();
  const e = entry(60, 2);
  const a = await minter.token(e, {}, WHO);
  minter.rejected(e, {}, WHO, a);
  const b = await minter.token(e, {}, WHO);
  assert.notEqual(b, a);
  minter.rejected(e, {}, WHO, a);
  assert.equal(await minter.token(e, {}, WHO), b);
  const start = as.tokenRequests.total;
  const other = await minter.token(e, { scope: 'read:projects' }, WHO);
  assert.notEqual(other, b, 'a different request is a different token');
  assert.equal(as.tokenRequests.total, start + 1);
});

test('a refusal by the authorization server names the error code, never the secret', async () => {
  const minter = newMinter();
  const bad = { ...entry(60, 3), value: new SecretValue(JSON.stringify({ clientSecret: 'wrong-secret-987654' })) };
  await assert.rejects(minter.token(bad, {}, WHO), (err: Error & { code?: string; detail?: string }) => {
    assert.equal(err.code, 'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE');
    assert.match(err.detail ?? '', /401 \(invalid_client\)/);
    assert.ok(!String(err.detail).includes('wrong-secret'));
    return true;
  });
});
