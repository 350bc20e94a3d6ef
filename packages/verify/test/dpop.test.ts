/** RFC 9449 §4.3: every check of a DPoP proof refuses with its own code. */
import assert from 'node:assert/strict';
import {
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type JsonWebKey as NodeJwk,
  type KeyObject,
} from 'node:crypto';
import { test } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import { InMemoryReplayCache, normalizeHtu, verifyDpopProof, type DpopCheckOptions } from '../src/internal.js';
import { isCanonicalHtu } from '../src/dpop/normalize-htu.js';
import { ath, b64, dpopOptions, NOW, PROOF_URL, proof, refusalCode, testKey } from './helpers.js';

const URL_ = PROOF_URL;
const opts = dpopOptions;
const code = refusalCode;

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

test('more refusals: malformed proofs, types, keys, claims, URIs', async () => {
  const key = await testKey('ES256');
  const rsa = await testKey('RS256');
  const good = { htm: 'GET', htu: URL_ };
  const { d: _d, ...pub } = key.publicJwk;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const p384Jwk = p384.publicKey.export({ format: 'jwk' });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const valid = await proof(key, good);
  const [h, p, sig] = valid.split('.') as [string, string, string];
  const lowBits = (seg: string): string => seg.slice(0, -1) + String.fromCharCode((seg.at(-1) as string).charCodeAt(0) ^ 1);
  /** Signs with node:crypto whatever header and payload are given (jose refuses to make some of these). */
  const ownPriv = createPrivateKey({ key: (await exportJWK(key.privateKey)) as NodeJwk, format: 'jwk' });
  const raw = (header: Record<string, unknown>, payload: Record<string, unknown>, signer: KeyObject = p384.privateKey): string => {
    const hh = b64(header);
    const pp = b64(payload);
    return `${hh}.${pp}.${sign('sha256', Buffer.from(`${hh}.${pp}`), { key: signer, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const v = (t: string, over: Partial<DpopCheckOptions> = {}): Promise<unknown> => verifyDpopProof([t], opts(over));
  const cases: Array<[string, () => Promise<unknown>, string]> = [
    ['empty string', () => v(''), 'ERR_DPOP_MALFORMED'],
    ['two segments', () => v(`${h}.${p}`), 'ERR_DPOP_MALFORMED'],
    ['JWE-shaped, five parts', () => v(`${valid}.${p}.${sig}`), 'ERR_DPOP_MALFORMED'],
    ['padding', () => v(`${valid}==`), 'ERR_DPOP_MALFORMED'],
    ['non-canonical signature spelling', () => v(`${h}.${p}.${lowBits(sig)}`), 'ERR_DPOP_MALFORMED'],
    ['header not JSON', () => v(`${b64('{typ')}.${p}.${sig}`), 'ERR_DPOP_MALFORMED'],
    ['payload an array', () => v(`${h}.${b64('[1]')}.${sig}`), 'ERR_DPOP_MALFORMED'],
    [
      'crit header',
      () => v(raw({ typ: 'dpop+jwt', alg: 'ES256', jwk: pub, crit: ['x'], x: 1 }, { ...good, jti: 'x', iat: NOW }, ownPriv)),
      'ERR_DPOP_MALFORMED',
    ],
    [
      'the same proof signed by node:crypto is accepted (control for the crit case)',
      () => v(raw({ typ: 'dpop+jwt', alg: 'ES256', jwk: pub }, { ...good, jti: 'x', iat: NOW }, ownPriv)),
      'accepted',
    ],
    ['no alg', () => v(`${b64({ typ: 'dpop+jwt', jwk: pub })}.${p}.${sig}`), 'ERR_DPOP_ALG'],
    ['no typ', async () => v(await proof(key, good, { typ: undefined })), 'ERR_DPOP_TYPE'],
    ['typ at+jwt', async () => v(await proof(key, good, { typ: 'at+jwt' })), 'ERR_DPOP_TYPE'],
    ['RS256 when only ES256 is allowed', async () => v(await proof(rsa, good), { algorithms: ['ES256'] }), 'ERR_DPOP_ALG'],
    ['jwk a string', async () => v(await proof(key, good, { jwk: JSON.stringify(pub) })), 'ERR_DPOP_JWK'],
    ['jwk an RSA key under ES256', async () => v(await proof(key, good, { jwk: rsa.publicJwk })), 'ERR_DPOP_JWK'],
    ['jwk a symmetric key', async () => v(await proof(key, good, { jwk: { kty: 'oct', k: 'c2VjcmV0' } })), 'ERR_DPOP_JWK'],
    ['jwk private RSA members', async () => v(await proof(rsa, good, { jwk: { ...rsa.publicJwk, p: 'AAAA' } })), 'ERR_DPOP_JWK'],
    [
      'jwk point not on the curve',
      async () =>
        v(
          await proof(key, good, {
            jwk: { ...pub, y: Buffer.alloc(32, 2).toString('base64url'), x: Buffer.alloc(32, 1).toString('base64url') },
          }),
        ),
      'ERR_DPOP_JWK',
    ],
    [
      'a real P-384 key claiming ES256',
      () => v(raw({ typ: 'dpop+jwt', alg: 'ES256', jwk: p384Jwk }, { ...good, jti: 'x', iat: NOW })),
      'ERR_DPOP_JWK',
    ],
    [
      'a 1024-bit RSA key',
      async () => {
        const hh = b64({ typ: 'dpop+jwt', alg: 'RS256', jwk: rsa1024.publicKey.export({ format: 'jwk' }) });
        const pp = b64({ ...good, jti: 'x', iat: NOW });
        return v(`${hh}.${pp}.${sign('sha256', Buffer.from(`${hh}.${pp}`), rsa1024.privateKey).toString('base64url')}`);
      },
      'ERR_DPOP_JWK',
    ],
    [
      'jwk of an Ed25519 key under ES256',
      async () => v(await proof(key, good, { jwk: (await testKey('EdDSA')).publicJwk })),
      'ERR_DPOP_JWK',
    ],
    ['payload edited after signing', () => v(`${h}.${b64({ ...good, jti: 'x', iat: NOW })}.${sig}`), 'ERR_DPOP_SIGNATURE'],
    ['no htm', async () => v(await proof(key, { htu: URL_ })), 'ERR_DPOP_CLAIMS'],
    ['no iat', async () => v(await proof(key, { ...good, iat: undefined })), 'ERR_DPOP_CLAIMS'],
    ['jti empty', async () => v(await proof(key, { ...good, jti: '' })), 'ERR_DPOP_CLAIMS'],
    ['jti oversized', async () => v(await proof(key, { ...good, jti: 'x'.repeat(257) })), 'ERR_DPOP_CLAIMS'],
    ['jti a number', async () => v(await proof(key, { ...good, jti: 7 })), 'ERR_DPOP_CLAIMS'],
    ['htu an object', async () => v(await proof(key, { ...good, htu: { href: URL_ } })), 'ERR_DPOP_CLAIMS'],
    ['ath a number', async () => v(await proof(key, { ...good, ath: 1 })), 'ERR_DPOP_CLAIMS'],
    ['nonce a number', async () => v(await proof(key, { ...good, nonce: 1 })), 'ERR_DPOP_CLAIMS'],
    ['htm in lower case', async () => v(await proof(key, { ...good, htm: 'get' })), 'ERR_DPOP_HTM'],
    ['htu not a URL', async () => v(await proof(key, { ...good, htu: '/r/api/v1/projects' })), 'ERR_DPOP_HTU'],
    ['htu another scheme', async () => v(await proof(key, { ...good, htu: 'wss://writ.example/r/api/v1/projects' })), 'ERR_DPOP_HTU'],
    ['htu with a trailing slash', async () => v(await proof(key, { ...good, htu: `${URL_}/` })), 'ERR_DPOP_HTU'],
    ['htu path case differs', async () => v(await proof(key, { ...good, htu: URL_.replace('projects', 'Projects') })), 'ERR_DPOP_HTU'],
    [
      'htu with userinfo of another host',
      async () => v(await proof(key, { ...good, htu: 'https://writ.example@evil.example/r/api/v1/projects' })),
      'ERR_DPOP_HTU',
    ],
    ['htu %2F for /', async () => v(await proof(key, { ...good, htu: 'https://writ.example/r/api/v1%2Fprojects' })), 'ERR_DPOP_HTU'],
    ['ath padded', async () => v(await proof(key, { ...good, ath: `${ath('tok')}=` }), { accessToken: 'tok' }), 'ERR_DPOP_ATH'],
    [
      'ath non-canonical spelling',
      async () => v(await proof(key, { ...good, ath: lowBits(ath('tok')) }), { accessToken: 'tok' }),
      'ERR_DPOP_ATH',
    ],
    [
      'ath of the token in hex',
      async () => v(await proof(key, { ...good, ath: Buffer.from(ath('tok'), 'base64url').toString('hex') }), { accessToken: 'tok' }),
      'ERR_DPOP_ATH',
    ],
    ['nonce required and missing', async () => v(await proof(key, good), { checkNonce: (n) => n === 'n-1' }), 'ERR_DPOP_NONCE'],
    ['nonce stale', async () => v(await proof(key, { ...good, nonce: 'n-0' }), { checkNonce: (n) => n === 'n-1' }), 'ERR_DPOP_NONCE'],
    ['nonce current', async () => v(await proof(key, { ...good, nonce: 'n-1' }), { checkNonce: (n) => n === 'n-1' }), 'accepted'],
  ];
  for (const [name, run, expected] of cases) assert.equal(await code(run()), expected, name);
});

test('iat window edges: maxAge + skew in the past, skew in the future, inclusive', async () => {
  const key = await testKey('ES256');
  const at = async (iat: number, now = NOW): Promise<string> =>
    code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_, iat })], opts({ now: () => now })));
  assert.equal(await at(NOW), 'accepted');
  assert.equal(await at(NOW - 65), 'accepted', 'maxAge 60 + skew 5');
  assert.equal(await at(NOW - 65.001), 'ERR_DPOP_IAT');
  assert.equal(await at(NOW + 5), 'accepted', 'within the skew');
  assert.equal(await at(NOW + 5.001), 'ERR_DPOP_IAT', 'beyond the skew');
  assert.equal(await at(NOW - 3600), 'ERR_DPOP_IAT');
  assert.equal(await at(0), 'ERR_DPOP_IAT');
});

test('htu matches after RFC 3986 §6.2.2/§6.2.3 normalisation, in both directions', async () => {
  const key = await testKey('ES256');
  const pairs: Array<[string, string]> = [
    ['https://WRIT.EXAMPLE/r/api/v1/projects', URL_],
    ['HTTPS://writ.example/r/api/v1/projects', URL_],
    ['https://writ.example:443/r/api/v1/projects', URL_],
    ['http://writ.example:80/r/x', 'http://writ.example/r/x'],
    ['https://writ.example/r/api/v1/%7Euser', 'https://writ.example/r/api/v1/~user'],
    ['https://writ.example/r/api/v1/~user', 'https://writ.example/r/api/v1/%7euser'],
    ['https://writ.example/r/api/v1/a%2ab', 'https://writ.example/r/api/v1/a%2Ab'],
    ['https://writ.example', 'https://writ.example/'],
    [`${URL_}?a=1#frag`, `${URL_}?b=2`],
    [`${URL_}#frag`, URL_],
  ];
  for (const [htu, url] of pairs) {
    assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu })], opts({ url }))), 'accepted', `${htu} for ${url}`);
    assert.equal(
      await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: url })], opts({ url: htu }))),
      'accepted',
      `${url} for ${htu}`,
    );
  }
  assert.equal(normalizeHtu('https://WRIT.example:443/a/%7e%2a?q#f'), 'https://writ.example/a/~%2A');
  assert.equal(normalizeHtu('not a url'), undefined);
  assert.equal(normalizeHtu('ftp://writ.example/'), undefined);
});

test('replay: one proof is one use of the URI, however the URI is spelled', async () => {
  // Regression: the exact-htu fast path once keyed the replay cache by the URL as spelled, the slow path by its
  // normal form, so a proof whose htu was not already canonical could be used once under each.
  const key = await testKey('ES256');
  const spellings: Array<[string, string]> = [
    ['https://writ.example/r/api/v1/proj%65cts', URL_],
    ['https://writ.example:443/r/api/v1/projects', URL_],
    ['https://WRIT.example/r/api/v1/projects', URL_],
    ['https://writ.example/r/api/v1/a%2ab', 'https://writ.example/r/api/v1/a%2Ab'],
    ['https://writ.example', 'https://writ.example/'],
  ];
  for (const [htu, other] of spellings) {
    for (const [first, second] of [
      [htu, other],
      [other, htu],
      [htu, `${htu}?x=1`],
    ] as const) {
      const replay = new InMemoryReplayCache({ now: () => NOW });
      const p = await proof(key, { htm: 'GET', htu });
      assert.equal(await code(verifyDpopProof([p], opts({ replay, url: first }))), 'accepted', `${htu} at ${first}`);
      assert.equal(await code(verifyDpopProof([p], opts({ replay, url: second }))), 'ERR_DPOP_REPLAY', `${htu} again at ${second}`);
    }
  }
});

test('the exact-htu fast path is taken only for URLs normalisation leaves unchanged', () => {
  for (const u of [
    'https://writ.example/r/api/v1/projects',
    'http://127.0.0.1:8080/r/api/x',
    'https://a-b.c9.example:8443/',
    "https://writ.example/a:b@c!$&'()*+,;=/x",
    'https://writ.example//double',
    'https://writ.example/.well-known/x',
  ])
    assert.equal(isCanonicalHtu(u), true, u);
  for (const u of [
    'https://WRIT.example/',
    'https://writ.example:443/',
    'http://writ.example:80/',
    'https://writ.example',
    'https://writ.example/a%7e',
    'https://writ.example/a/../b',
    'https://writ.example/a/./b',
    'https://writ.example/a/..',
    'https://writ.example/a?x',
    'https://writ.example/a#x',
    'https://0x7f.1/',
    'https://127.1/',
    'https://010.0.0.1/',
    'https://[::1]/',
    'https://u@writ.example/',
    'https://writ.example:0443/',
    'https://writ.example:99999/',
    'https://xn--nxasmq6b.example/',
    'https://writ.example/a b',
    'https://writ.example/a\\b',
    'https://writ.example/é',
    'https://writ.example./',
    'ftp://writ.example/',
  ])
    assert.equal(isCanonicalHtu(u), false, u);
  // Property: whatever isCanonicalHtu admits, normalizeHtu returns unchanged.
  const rnd = (() => {
    let a = 42;
    return (n: number) => {
      a = (a * 1103515245 + 12345) >>> 0;
      return a % n;
    };
  })();
  const hostParts = ['a', 'writ', 'x-y', '0', '127', '255', '256', '1', 'ex', '0x7f', 'Z', '-'];
  const pathChars = "abcXYZ019-._~!$&'()*+,;=:@/%2e";
  let admitted = 0;
  for (let i = 0; i < 5000; i++) {
    const labels = Array.from({ length: 1 + rnd(4) }, () => hostParts[rnd(hostParts.length)] as string);
    const port = ['', ':80', ':443', ':8080', ':1', ':65536'][rnd(6)] as string;
    const path = `/${Array.from({ length: rnd(12) }, () => pathChars[rnd(pathChars.length)]).join('')}`;
    const u = `${rnd(2) === 0 ? 'https' : 'http'}://${labels.join('.')}${port}${path}`;
    if (isCanonicalHtu(u)) {
      admitted++;
      assert.equal(normalizeHtu(u), u, u);
    }
  }
  assert.ok(admitted > 500, `${admitted} admitted`);
});

test('the replay key is jti + URI: the same jti with another method at the same URI is a replay', async () => {
  const key = await testKey('ES256');
  const replay = new InMemoryReplayCache({ now: () => NOW });
  const jti = randomBytes(12).toString('base64url');
  assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_, jti })], opts({ replay }))), 'accepted');
  assert.equal(
    await code(verifyDpopProof([await proof(key, { htm: 'POST', htu: URL_, jti })], opts({ replay, method: 'POST' }))),
    'ERR_DPOP_REPLAY',
  );
  // A proof signed with SignJWT directly (no helper defaults) is verified the same way.
  const direct = await new SignJWT({ jti: 'direct-1', htm: 'GET', htu: URL_, iat: NOW })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk })
    .sign(key.privateKey);
  assert.equal((await verifyDpopProof([direct], opts({ replay }))).jkt, key.jkt);
});

test('replay cache bound: refuses when full of live entries, reclaims expired ones, re-admits an expired key', () => {
  let clock = NOW;
  const cache = new InMemoryReplayCache({ maxEntries: 3, now: () => clock });
  assert.equal(cache.checkAndStore('a', NOW + 10), true);
  assert.equal(cache.checkAndStore('b', NOW + 20), true);
  assert.equal(cache.checkAndStore('c', NOW + 30), true);
  assert.equal(cache.checkAndStore('a', NOW + 10), false, 'live: a replay');
  assert.throws(() => cache.checkAndStore('d', NOW + 40), { name: 'ReplayCacheFullError' });
  assert.equal(cache.size, 3, 'nothing live was forgotten');
  clock = NOW + 10;
  assert.equal(cache.checkAndStore('a', NOW + 50), false, 'an entry is live up to and including its expiry');
  clock = NOW + 11;
  assert.equal(cache.checkAndStore('d', NOW + 40), true, 'a expired: its slot is reclaimed');
  assert.throws(() => cache.checkAndStore('a', NOW + 60), { name: 'ReplayCacheFullError' }, 'a expired, but b, c, d are live: full');
  clock = NOW + 31;
  assert.equal(cache.checkAndStore('a', NOW + 60), true, 'b and c expired');
  assert.equal(cache.checkAndStore('c', NOW + 70), true, 'an expired key is admitted again');
  assert.ok(cache.size <= 3);
});
