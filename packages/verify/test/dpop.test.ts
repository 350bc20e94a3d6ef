/** RFC 9449 §4.3: every check of a DPoP proof refuses with its own code. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { WritError } from '@writ/protocol';
import { InMemoryReplayCache, verifyDpopProof, type DpopCheckOptions } from '../src/index.js';
import { ath, b64, NOW, proof, testKey } from './helpers.js';

const URL_ = 'https://writ.example/r/api/v1/projects';

function opts(over: Partial<DpopCheckOptions> = {}): DpopCheckOptions {
  return {
    method: 'GET',
    url: URL_,
    replay: new InMemoryReplayCache({ now: () => NOW }),
    algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    maxAgeSeconds: 60,
    clockSkewSeconds: 5,
    now: () => NOW,
    ...over,
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (err instanceof WritError) return err.code;
    throw err;
  }
}

test('a correct proof is accepted and its key thumbprint returned, for ES256, EdDSA, RS256 and PS256', async () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256'] as const) {
    const key = await testKey(alg);
    const r = await verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_ })], opts());
    assert.equal(r.jkt, key.jkt, alg);
  }
});

test('each failed check has its own code', async () => {
  const key = await testKey('ES256');
  const other = await testKey('ES256');
  const good = { htm: 'GET', htu: URL_ };
  const token = 'the.access.token';
  const { d: _d, ...pub } = key.publicJwk;
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ['no proof', () => verifyDpopProof([], opts()), 'ERR_DPOP_MISSING'],
    ['two proofs', async () => verifyDpopProof([await proof(key, good), await proof(key, good)], opts()), 'ERR_DPOP_MULTIPLE'],
    ['not a JWT', () => verifyDpopProof(['abc'], opts()), 'ERR_DPOP_MALFORMED'],
    ['typ jwt', async () => verifyDpopProof([await proof(key, good, { typ: 'JWT' })], opts()), 'ERR_DPOP_TYPE'],
    [
      'alg none',
      () => verifyDpopProof([`${b64({ typ: 'dpop+jwt', alg: 'none', jwk: pub })}.${b64({ ...good, jti: 'a', iat: NOW })}.`], opts()),
      'ERR_DPOP_ALG',
    ],
    [
      'HS256 keyed with the public key',
      async () => {
        const h = b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: pub });
        const p = b64({ ...good, jti: 'a', iat: NOW });
        return verifyDpopProof([`${h}.${p}.${createHmac('sha256', JSON.stringify(pub)).update(`${h}.${p}`).digest('base64url')}`], opts());
      },
      'ERR_DPOP_ALG',
    ],
    ['alg not allowed here', async () => verifyDpopProof([await proof(key, good)], opts({ algorithms: ['EdDSA'] })), 'ERR_DPOP_ALG'],
    ['private key in jwk', async () => verifyDpopProof([await proof(key, good, { jwk: { ...pub, d: 'AAAA' } })], opts()), 'ERR_DPOP_JWK'],
    ['no jwk', async () => verifyDpopProof([await proof(key, good, { jwk: undefined })], opts()), 'ERR_DPOP_JWK'],
    [
      'jwk of another curve',
      async () => verifyDpopProof([await proof(key, good, { jwk: { ...pub, crv: 'P-384' } })], opts()),
      'ERR_DPOP_JWK',
    ],
    ['signed by another key', async () => verifyDpopProof([await proof(other, good, { jwk: pub })], opts()), 'ERR_DPOP_SIGNATURE'],
    ['no jti', async () => verifyDpopProof([await proof(key, { ...good, jti: undefined })], opts()), 'ERR_DPOP_CLAIMS'],
    ['no htu', async () => verifyDpopProof([await proof(key, { htm: 'GET' })], opts()), 'ERR_DPOP_CLAIMS'],
    ['iat a string', async () => verifyDpopProof([await proof(key, { ...good, iat: String(NOW) })], opts()), 'ERR_DPOP_CLAIMS'],
    ['another method', async () => verifyDpopProof([await proof(key, { ...good, htm: 'POST' })], opts()), 'ERR_DPOP_HTM'],
    [
      'another path',
      async () => verifyDpopProof([await proof(key, { ...good, htu: 'https://writ.example/r/api/v1/admin' })], opts()),
      'ERR_DPOP_HTU',
    ],
    [
      'another host',
      async () => verifyDpopProof([await proof(key, { ...good, htu: 'https://evil.example/r/api/v1/projects' })], opts()),
      'ERR_DPOP_HTU',
    ],
    [
      'another port',
      async () => verifyDpopProof([await proof(key, { ...good, htu: 'https://writ.example:8443/r/api/v1/projects' })], opts()),
      'ERR_DPOP_HTU',
    ],
    [
      'http instead of https',
      async () => verifyDpopProof([await proof(key, { ...good, htu: 'http://writ.example/r/api/v1/projects' })], opts()),
      'ERR_DPOP_HTU',
    ],
    ['too old', async () => verifyDpopProof([await proof(key, { ...good, iat: NOW - 66 })], opts()), 'ERR_DPOP_IAT'],
    ['from the future', async () => verifyDpopProof([await proof(key, { ...good, iat: NOW + 6 })], opts()), 'ERR_DPOP_IAT'],
    ['ath missing', async () => verifyDpopProof([await proof(key, good)], opts({ accessToken: token })), 'ERR_DPOP_ATH'],
    [
      'ath of another token',
      async () => verifyDpopProof([await proof(key, { ...good, ath: ath('other') })], opts({ accessToken: token })),
      'ERR_DPOP_ATH',
    ],
  ];
  for (const [name, run, expected] of cases) assert.equal(await code(run()), expected, name);
});

test('htu is compared after normalisation, ignoring query and fragment', async () => {
  const key = await testKey('ES256');
  for (const htu of [
    'https://WRIT.example/r/api/v1/projects',
    'https://writ.example:443/r/api/v1/projects',
    'https://writ.example/r/api/v1/projects?x=1#f',
    'https://writ.example/r/api/v1/proj%65cts',
  ]) {
    assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu })], opts())), 'accepted', htu);
  }
  assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_ })], opts({ url: `${URL_}?page=2` }))), 'accepted');
});

test('iat within the skew and the window is accepted; ath of the presented token is accepted', async () => {
  const key = await testKey('ES256');
  assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_, iat: NOW + 5 })], opts())), 'accepted');
  assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_, iat: NOW - 65 })], opts())), 'accepted');
  assert.equal(
    await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_, ath: ath('tok') })], opts({ accessToken: 'tok' }))),
    'accepted',
  );
});

test('replay: a proof is accepted once per URI; the cache is bounded and fails closed when full', async () => {
  const key = await testKey('ES256');
  const replay = new InMemoryReplayCache({ maxEntries: 2, now: () => NOW });
  const p = await proof(key, { htm: 'GET', htu: URL_, jti: 'same-jti' });
  assert.equal(await code(verifyDpopProof([p], opts({ replay }))), 'accepted');
  assert.equal(await code(verifyDpopProof([p], opts({ replay }))), 'ERR_DPOP_REPLAY');
  const elsewhere = 'https://writ.example/r/api/v1/other';
  assert.equal(
    await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: elsewhere, jti: 'same-jti' })], opts({ replay, url: elsewhere }))),
    'accepted',
    'same jti, another URI',
  );
  assert.equal(
    await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_ })], opts({ replay }))),
    'ERR_NOT_READY',
    'full of live entries: refuse, never forget',
  );
  let clock = NOW;
  const aging = new InMemoryReplayCache({ maxEntries: 1, now: () => clock });
  assert.equal(aging.checkAndStore('a', NOW + 10), true);
  clock = NOW + 11;
  assert.equal(aging.checkAndStore('b', NOW + 30), true, 'expired entries are reclaimed');
  assert.equal(aging.checkAndStore('b', NOW + 30), false);
});

test('a proof that fails a check does not occupy the replay cache', async () => {
  const key = await testKey('ES256');
  const replay = new InMemoryReplayCache({ now: () => NOW });
  await code(verifyDpopProof([await proof(key, { htm: 'POST', htu: URL_ })], opts({ replay })));
  assert.equal(replay.size, 0);
});

test('the replay cache forgets expired proofs as it goes, without waiting to be full', () => {
  let clock = NOW;
  const cache = new InMemoryReplayCache({ maxEntries: 1_000_000, now: () => clock });
  for (let i = 0; i < 1000; i++) cache.checkAndStore(`k${i}`, clock + 60);
  clock += 61;
  for (let i = 0; i < 200; i++) cache.checkAndStore(`n${i}`, clock + 60);
  assert.ok(cache.size < 1000, `expired entries are dropped while new ones arrive (size ${cache.size})`);
});
