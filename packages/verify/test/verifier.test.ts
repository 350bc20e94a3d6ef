/**
 * The verifier for services (`createWritVerifier`), against a stand-in Writ on loopback: the gateway's per-call
 * check with the gateway's codes, fail-closed readiness, revocations from the SSE feed (live, catch-up, resumption
 * with Last-Event-ID, invalid events), staleness, and key rotation with bounded JWKS refetches.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWritVerifier, type WritVerifier, type WritVerifierOptions } from '../src/index.js';
import { RemoteJwks } from '../src/internal.js';
import { NOW, refusalCode, testKey } from './helpers.js';
import { FEED_TOKEN, startFakeWrit, until, type FakeWrit } from './fake-writ.js';

const SERVICE = 'https://billing.example';

class Clock {
  ms = NOW * 1000;
  now = (): number => this.ms;
}

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function setup(
  over: Partial<WritVerifierOptions> = {},
  fakeOpts: Parameters<typeof startFakeWrit>[0] = {},
): Promise<{ fake: FakeWrit; v: WritVerifier; clock: Clock }> {
  const fake = await startFakeWrit(fakeOpts);
  const clock = new Clock();
  const v = createWritVerifier({
    issuer: fake.issuer,
    audience: fake.audience,
    feedToken: FEED_TOKEN,
    now: clock.now,
    feed: { reconnectDelayMs: 2, maxReconnectDelayMs: 20 },
    ...over,
  });
  cleanup.push(async () => {
    await v.close();
    await fake.close();
  });
  return { fake, v, clock };
}

async function call(fake: FakeWrit, token: string, o: { method?: string; url?: string; proof?: string | null; scheme?: string } = {}) {
  const method = o.method ?? 'GET';
  const url = o.url ?? `${SERVICE}/v1/invoices`;
  const headers: Array<[string, string]> = [['Authorization', `${o.scheme ?? 'DPoP'} ${token}`]];
  const p = o.proof === undefined ? await fake.proofFor(token, method, url) : o.proof;
  if (p !== null) headers.push(['DPoP', p]);
  return { method, url, headers };
}

test('fails closed until the first key set and the first catch-up; ready after', async () => {
  const { fake, v } = await setup({}, { holdReady: true });
  await until(v, (s) => s.connected && s.keysLoaded);
  assert.equal(v.state.ready, false);
  const token = await fake.token();
  assert.equal(await refusalCode(v.verify(await call(fake, token))), 'ERR_NOT_READY');
  fake.release();
  await v.whenReady();
  assert.equal(v.state.ready, true);
  const ok = await v.verify(await call(fake, token));
  assert.equal(ok.claims.sub, 'dev:alice');
  assert.equal(ok.jkt, fake.dpop.jkt);
  assert.equal(fake.connections[0]?.authorization, `Bearer ${FEED_TOKEN}`);
  assert.equal(fake.connections[0]?.lastEventId, undefined, 'a first connection asks for everything');
});

test('the per-call check: a valid DPoP call passes, every attack is refused with the gateway code', async () => {
  const { fake, v } = await setup();
  await v.whenReady();
  const other = await testKey('ES256');
  const token = await fake.token();
  const url = `${SERVICE}/v1/invoices`;
  const replayed = await call(fake, token);
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ['valid', async () => v.verify(replayed), 'accepted'],
    [
      'valid, Node rawHeaders form',
      async () => v.verify({ ...(await call(fake, token)), headers: (await call(fake, token)).headers.flat() }),
      'accepted',
    ],
    ['replayed proof', async () => v.verify(replayed), 'ERR_DPOP_REPLAY'],
    ['no Authorization', async () => v.verify({ method: 'GET', url, headers: [] }), 'ERR_AUTH_MISSING'],
    ['Bearer scheme', async () => v.verify(await call(fake, token, { scheme: 'Bearer' })), 'ERR_AUTH_SCHEME'],
    [
      'two Authorization headers',
      () => call(fake, token).then((c) => v.verify({ ...c, headers: [...c.headers, ['authorization', `DPoP ${token}`]] })),
      'ERR_AUTH_MULTIPLE',
    ],
    ['no proof', async () => v.verify(await call(fake, token, { proof: null })), 'ERR_DPOP_MISSING'],
    [
      'wrong audience',
      () => fake.token({ aud: `${fake.issuer}/r/other` }).then(async (t) => v.verify(await call(fake, t))),
      'ERR_TOKEN_AUDIENCE',
    ],
    [
      'wrong issuer',
      () => fake.token({ iss: 'https://evil.example' }).then(async (t) => v.verify(await call(fake, t))),
      'ERR_TOKEN_ISSUER',
    ],
    ['expired token', () => fake.token({ exp: NOW - 60 }).then(async (t) => v.verify(await call(fake, t))), 'ERR_TOKEN_EXPIRED'],
    [
      'wrong htu',
      async () => v.verify({ ...(await call(fake, token, { proof: await fake.proofFor(token, 'GET', `${SERVICE}/v1/other`) })) }),
      'ERR_DPOP_HTU',
    ],
    [
      'wrong htm',
      async () => v.verify({ ...(await call(fake, token, { proof: await fake.proofFor(token, 'POST', url) })) }),
      'ERR_DPOP_HTM',
    ],
    [
      'proof by another key',
      async () => v.verify(await call(fake, token, { proof: await fake.proofFor(token, 'GET', url, other) })),
      'ERR_DPOP_BINDING',
    ],
    ['tampered token', async () => v.verify(await call(fake, `${token.slice(0, -4)}AAAA`)), 'ERR_TOKEN_SIGNATURE'],
  ];
  for (const [name, p, code] of cases) assert.equal(await refusalCode(p), code, name);
});

test('revocations from the feed: live, then resumed with Last-Event-ID after a drop', async () => {
  const { fake, v } = await setup();
  await v.whenReady();
  const token = await fake.token();
  assert.equal(await refusalCode(v.verify(await call(fake, token))), 'accepted');
  const task = fake.revoke({ type: 'task', taskId: 'task_root' });
  await until(v, (s) => s.lastSeq >= task.seq);
  assert.equal(await refusalCode(v.verify(await call(fake, token))), 'ERR_REVOKED_TASK', 'an ancestor task revoked');

  const reconnected = fake.nextConnection();
  fake.dropFeeds();
  const c = await reconnected;
  assert.equal(c.lastEventId, String(task.seq));
  assert.equal(c.after, String(task.seq));
  const other = await fake.token({ jti: 'tok_2', task_id: 'task_2', task_chain: [], sub: 'dev:bob' });
  await until(v, (s) => s.ready && s.connected);
  assert.equal(await refusalCode(v.verify(await call(fake, other))), 'accepted');
  const user = fake.revoke({ type: 'user', userId: 'dev:bob', before: NOW });
  await until(v, (s) => s.lastSeq >= user.seq);
  assert.equal(await refusalCode(v.verify(await call(fake, other))), 'ERR_REVOKED_USER');
});

test('catch-up: a verifier started after a revocation enforces it from its first call', async () => {
  const fake = await startFakeWrit();
  fake.revoke({ type: 'agent', agentId: 'agent-a', before: NOW });
  const clock = new Clock();
  const v = createWritVerifier({ issuer: fake.issuer, audience: fake.audience, feedToken: FEED_TOKEN, now: clock.now });
  cleanup.push(async () => {
    await v.close();
    await fake.close();
  });
  await v.whenReady();
  assert.equal(v.state.lastSeq, 1);
  assert.equal(await refusalCode(v.verify(await call(fake, await fake.token()))), 'ERR_REVOKED_AGENT');
});

test('events that are not valid entries are ignored and counted; other event types and heartbeats are not errors', async () => {
  const { fake, v } = await setup();
  await v.whenReady();
  const before = v.state.lastEventAt;
  fake.sendRaw(': ping\n\n');
  fake.sendRaw('event: revocation\ndata: {"seq":"7","target":{"type":"task","taskId":"task_1"},"expiresAt":1}\n\n');
  fake.sendRaw('event: revocation\ndata: {"seq":8,"target":{"type":"everything"},"expiresAt":1}\n\n');
  fake.sendRaw('event: revocation\ndata: not json\n\n');
  fake.sendRaw('event: something-new\ndata: {}\n\n');
  fake.sendRaw('event: ready\ndata: {"lastSeq":-1}\n\n');
  const good = fake.revoke({ type: 'token', jti: 'tok_9' });
  const s = await until(v, (st) => st.lastSeq >= good.seq);
  assert.equal(s.invalidEvents, 4);
  assert.equal(s.lastSeq, good.seq, 'the invalid seq 7/8 did not move the position');
  assert.ok(s.lastEventAt !== null && before !== null);
  assert.equal(await refusalCode(v.verify(await call(fake, await fake.token()))), 'accepted');
  assert.equal(await refusalCode(v.verify(await call(fake, await fake.token({ jti: 'tok_9' })))), 'ERR_REVOKED_TOKEN');
});

test('a feed disconnected past maxStalenessMs refuses every call; the next catch-up makes it ready again', async () => {
  const { fake, v, clock } = await setup({ maxStalenessMs: 30_000 });
  await v.whenReady();
  const token = await fake.token();
  fake.refuseFeed = 503;
  const refused = fake.nextConnection();
  fake.dropFeeds();
  await refused;
  await until(v, (s) => !s.connected);
  assert.equal(await refusalCode(v.verify(await call(fake, token))), 'accepted', 'within the bound');
  clock.ms += 30_001;
  assert.equal(v.state.ready, false);
  assert.equal(await refusalCode(v.verify(await call(fake, token))), 'ERR_NOT_READY');
  assert.match(v.state.lastError ?? '', /503/);
  // A new connection that has not finished its catch-up is not current yet.
  fake.holdReady = true;
  fake.refuseFeed = undefined;
  await until(v, (s) => s.connected);
  assert.equal(await refusalCode(v.verify(await call(fake, token))), 'ERR_NOT_READY');
  fake.release();
  await until(v, (s) => s.ready);
  assert.equal(await refusalCode(v.verify(await call(fake, token))), 'accepted');
  await v.close();
  assert.equal(v.state.connected, false);
});

test('a feed that goes silent (no event, no heartbeat) is dropped and resumed', async () => {
  const { fake, v } = await setup({ feed: { reconnectDelayMs: 2, maxReconnectDelayMs: 20, heartbeatTimeoutMs: 100 } });
  await v.whenReady();
  const errors: string[] = [];
  v.onChange((s) => {
    if (s.lastError !== null) errors.push(s.lastError);
  });
  const seq = fake.revoke({ type: 'token', jti: 'tok_x' }).seq;
  await until(v, (s) => s.lastSeq >= seq);
  // The stand-in never sends heartbeats: the verifier gives up on the silent stream and reconnects where it was.
  const c = await fake.nextConnection();
  assert.equal(c.lastEventId, String(seq));
  assert.ok(
    errors.some((e) => /heartbeat|abort/i.test(e)),
    errors.join('; '),
  );
});

test('a feed that refuses the feed token leaves the verifier not ready', async () => {
  const { fake, v } = await setup({ feedToken: 'not-the-feed-token' });
  await fake.nextConnection();
  await until(v, (s) => s.lastError !== null && s.keysLoaded);
  assert.match(v.state.lastError ?? '', /401/);
  assert.equal(await refusalCode(v.verify(await call(fake, await fake.token()))), 'ERR_NOT_READY');
});

test('key rotation: an unknown kid refetches the JWKS, at most once per cooldown', async () => {
  const { fake, v, clock } = await setup({ jwks: { unknownKidCooldownMs: 30_000 } });
  await v.whenReady();
  const fetched = fake.jwksRequests;
  const next = await testKey('ES256');
  fake.jwks = { keys: [...fake.jwks.keys, { ...next.publicJwk, kid: 'k2', alg: 'ES256' }] };
  const { SignJWT } = await import('jose');
  const rotated = await new SignJWT({ ...fake.claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k2' })
    .sign(next.privateKey);
  // Within the cooldown of the first load: no refetch, refused.
  assert.equal(await refusalCode(v.verify(await call(fake, rotated))), 'ERR_TOKEN_KID_UNKNOWN');
  assert.equal(fake.jwksRequests, fetched);
  clock.ms += 30_000;
  const proofIat = { iat: NOW + 30 };
  const url = `${SERVICE}/v1/invoices`;
  const ok = await v.verify(await call(fake, rotated, { proof: await fake.proofFor(rotated, 'GET', url, fake.dpop, proofIat) }));
  assert.equal(ok.claims.jti, 'tok_1');
  assert.equal(fake.jwksRequests, fetched + 1);
  // A flood of made-up kids right after: no further fetch.
  for (const kid of ['k3', 'k4', 'k5']) {
    const t = await fake.token({}, { kid });
    assert.equal(
      await refusalCode(v.verify(await call(fake, t, { proof: await fake.proofFor(t, 'GET', url, fake.dpop, proofIat) }))),
      'ERR_TOKEN_KID_UNKNOWN',
    );
  }
  assert.equal(fake.jwksRequests, fetched + 1);
});

test('JWKS fetches are bounded in size and time', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/big')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [], pad: 'x'.repeat(10_000) }));
    else if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"keys":[],"pad":"${'x'.repeat(6_000)}`);
      res.end(`${'x'.repeat(6_000)}"}`);
    }
    // '/slow': never answered.
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (const path of ['/big', '/chunked']) {
      const j = new RemoteJwks({ url: `${base}${path}`, maxBytes: 8_000 });
      assert.equal(await j.refresh(), false, path);
      assert.equal(j.loaded, false);
    }
    const slow = new RemoteJwks({ url: `${base}/slow`, timeoutMs: 50 });
    assert.equal(await slow.refresh(), false);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('after close, every call is refused', async () => {
  const { fake, v } = await setup();
  await v.whenReady();
  await v.close();
  assert.equal(v.state.ready, false);
  assert.equal(await refusalCode(v.verify(await call(fake, await fake.token()))), 'ERR_NOT_READY');
});

test('misuse throws TypeError', () => {
  assert.throws(() => createWritVerifier({ issuer: 'not a url', audience: 'https://w/r/x', feedToken: 't' }), TypeError);
  assert.throws(() => createWritVerifier({ issuer: 'https://w', audience: 'https://w/r/x', feedToken: '' }), TypeError);
});
