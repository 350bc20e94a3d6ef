/**
 * Refusals beyond the RFC checklists, each closing a concrete hole: one key with many thumbprints, RSA keys that
 * make verification expensive, userinfo in `htu`, lossy `ath` input, replay keys of unbounded size, a full replay
 * cache that scans itself on every refused proof, loosely typed authorization details, path-parameter and
 * double-encoding traversal, nonces with several spellings.
 */
import assert from 'node:assert/strict';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type JsonWebKey as NodeJwk,
  type KeyObject,
} from 'node:crypto';
import { test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, importJWK, jwtVerify } from 'jose';
import { WritError, type AuthorizationDetail, type TaskTokenClaims } from '@writ/protocol';
import { matchAuthorizationDetails, normalizeRequestPath } from '../src/index.js';
import {
  canonicalPathPattern,
  createDpopNonces,
  InMemoryReplayCache,
  keyFitsAlg,
  normalizeHtu,
  PathPatternError,
  RevocationSet,
  tokenKeysFromJwks,
  verifyDpopProof,
  verifyTaskToken,
} from '../src/internal.js';
import { ath, b64, dpopOptions, NOW, PROOF_URL, proof, refusalCode, testKey } from './helpers.js';

const URL_ = PROOF_URL;
const opts = dpopOptions;
const code = refusalCode;

/** A proof with exactly this header, signed by `priv` with node:crypto (jose would re-encode the jwk). */
function rawProof(alg: 'ES256' | 'RS256', priv: KeyObject, jwk: Record<string, unknown>, claims: Record<string, unknown> = {}): string {
  const h = b64({ typ: 'dpop+jwt', alg, jwk });
  const p = b64({ jti: randomBytes(12).toString('base64url'), htm: 'GET', htu: URL_, iat: NOW, ...claims });
  const input = Buffer.from(`${h}.${p}`);
  const sig = alg === 'ES256' ? sign('sha256', input, { key: priv, dsaEncoding: 'ieee-p1363' }) : sign('sha256', input, priv);
  return `${h}.${p}.${sig.toString('base64url')}`;
}

const withLeadingZero = (member: string): string =>
  Buffer.concat([Buffer.from([0]), Buffer.from(member, 'base64url')]).toString('base64url');

test('one key, one jkt: non-minimal JWK member encodings are refused (jose accepts them, under other thumbprints)', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecJwk = ec.publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaJwk = rsa.publicKey.export({ format: 'jwk' }) as Record<string, string>;
  assert.equal(await code(verifyDpopProof([rawProof('ES256', ec.privateKey, ecJwk)], opts())), 'accepted', 'control: canonical EC');
  assert.equal(await code(verifyDpopProof([rawProof('RS256', rsa.privateKey, rsaJwk)], opts())), 'accepted', 'control: canonical RSA');
  const variants: Array<[string, 'ES256' | 'RS256', KeyObject, Record<string, string>]> = [
    ['EC x with a leading zero octet', 'ES256', ec.privateKey, { ...ecJwk, x: withLeadingZero(ecJwk['x'] as string) }],
    ['EC y with a leading zero octet', 'ES256', ec.privateKey, { ...ecJwk, y: withLeadingZero(ecJwk['y'] as string) }],
    ['RSA n with a leading zero octet', 'RS256', rsa.privateKey, { ...rsaJwk, n: withLeadingZero(rsaJwk['n'] as string) }],
    ['RSA e as AAEAAQ', 'RS256', rsa.privateKey, { ...rsaJwk, e: 'AAEAAQ' }],
  ];
  for (const [name, alg, priv, jwk] of variants) {
    const t = rawProof(alg, priv, jwk);
    assert.equal(await code(verifyDpopProof([t], opts())), 'ERR_DPOP_JWK', name);
    // The difference from jose, pinned: jose verifies the same proof, and its thumbprint is another one.
    const joseKey = await importJWK(jwk, alg);
    await jwtVerify(t, joseKey, { algorithms: [alg], typ: 'dpop+jwt' });
    const canonical = alg === 'ES256' ? ecJwk : rsaJwk;
    assert.notEqual(await calculateJwkThumbprint(jwk), await calculateJwkThumbprint(canonical), `${name}: another jkt in jose`);
  }
});

/** An RSA public JWK with an arbitrary odd modulus of `bits` bits and exponent `e` (no key generation needed). */
function rsaJwkOf(bits: number, e: bigint): Record<string, string> {
  const n = randomBytes(bits / 8);
  n[0] = (n[0] as number) | 0x80;
  n[n.length - 1] = (n[n.length - 1] as number) | 1;
  let hex = e.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return { kty: 'RSA', n: n.toString('base64url'), e: Buffer.from(hex, 'hex').toString('base64url') };
}

test('RSA keys that would make verification expensive are refused: modulus over 4096 bits, exponent of 2^32 or more', async () => {
  const fits = (jwk: Record<string, string>, alg = 'RS256'): boolean =>
    keyFitsAlg(createPublicKey({ key: jwk as NodeJwk, format: 'jwk' }), alg);
  assert.equal(fits(rsaJwkOf(2048, 65537n)), true);
  assert.equal(fits(rsaJwkOf(4096, 65537n)), true);
  assert.equal(fits(rsaJwkOf(4096, 65537n), 'PS256'), true);
  assert.equal(fits(rsaJwkOf(4104, 65537n)), false, 'over 4096 bits');
  assert.equal(fits(rsaJwkOf(8192, 65537n), 'PS256'), false);
  assert.equal(fits(rsaJwkOf(2040, 65537n)), false, 'under 2048 bits');
  assert.equal(fits(rsaJwkOf(2048, 2n ** 32n + 1n)), false, 'exponent of 33 bits');
  assert.equal(fits(rsaJwkOf(2048, 2n ** 2000n + 1n)), false, 'a 2001-bit exponent: ~2 ms per verification');
  assert.equal(fits(rsaJwkOf(2048, 2n ** 32n - 1n)), true, 'largest accepted exponent');
  assert.equal(fits(rsaJwkOf(2048, 3n)), true);
  // Through a proof header: refused before any signature work.
  const jwk = rsaJwkOf(2048, 2n ** 2000n + 1n);
  const h = b64({ typ: 'dpop+jwt', alg: 'RS256', jwk });
  const p = b64({ jti: 'j', htm: 'GET', htu: URL_, iat: NOW });
  assert.equal(await code(verifyDpopProof([`${h}.${p}.${Buffer.alloc(256, 1).toString('base64url')}`], opts())), 'ERR_DPOP_JWK');
});

test('a proof header too large to be cached is still verified the same way', async () => {
  const key = await testKey('ES256');
  const replay = new InMemoryReplayCache({ now: () => NOW });
  const p = await proof(key, { htm: 'GET', htu: URL_ }, { 'x-pad': 'p'.repeat(3000) });
  assert.equal((await verifyDpopProof([p], opts({ replay }))).jkt, key.jkt);
  assert.equal(await code(verifyDpopProof([p], opts({ replay }))), 'ERR_DPOP_REPLAY');
  const forged = p.replace(/\.[^.]+$/, `.${Buffer.alloc(64, 7).toString('base64url')}`);
  assert.equal(await code(verifyDpopProof([forged], opts())), 'ERR_DPOP_SIGNATURE');
});

test('htu with userinfo is refused, in either the proof or the request URL', async () => {
  const key = await testKey('ES256');
  for (const htu of [
    'https://user@writ.example/r/api/v1/projects',
    'https://u:p@writ.example/r/api/v1/projects',
    'https://@writ.example/r/api/v1/projects',
  ]) {
    assert.equal(normalizeHtu(htu), undefined, htu);
    assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu })], opts())), 'ERR_DPOP_HTU', htu);
    assert.equal(
      await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_ })], opts({ url: htu }))),
      'ERR_DPOP_HTU',
      `url ${htu}`,
    );
  }
  assert.equal(normalizeHtu('https://writ.example/a@b'), 'https://writ.example/a@b', 'an @ in the path is not userinfo');
});

test('ath: the access token is hashed losslessly, so two different tokens never share an ath', async () => {
  const key = await testKey('ES256');
  // Node's 'ascii' encoding keeps only the low byte: "Ł" (U+0141) would hash like "A".
  const p = await proof(key, { htm: 'GET', htu: URL_, ath: ath('A') });
  assert.equal(await code(verifyDpopProof([p], opts({ accessToken: '\u0141' }))), 'ERR_DPOP_ATH');
  assert.equal(await code(verifyDpopProof([p], opts({ accessToken: 'A' }))), 'accepted');
});

test('algorithms that are not asymmetric JWS algorithms Writ supports are a programming error', async () => {
  const key = await testKey('ES256');
  const p = await proof(key, { htm: 'GET', htu: URL_ });
  for (const algorithms of [['HS256'], ['ES256', 'none'], ['ES384']])
    await assert.rejects(verifyDpopProof([p], opts({ algorithms })), TypeError, algorithms.join());
});

test('the replay key is a fixed-size hash of jti and canonical URI', async () => {
  const key = await testKey('ES256');
  const seen: string[] = [];
  const replay = { checkAndStore: (k: string): boolean => (seen.push(k), true) };
  const jti = 'J'.repeat(256);
  await verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_, jti })], opts({ replay }));
  await verifyDpopProof([await proof(key, { htm: 'GET', htu: 'https://WRIT.example:443/r/api/v1/projects', jti })], opts({ replay }));
  await verifyDpopProof([await proof(key, { htm: 'GET', htu: `${URL_}/x`, jti })], opts({ replay, url: `${URL_}/x` }));
  await verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_, jti: 'other' })], opts({ replay }));
  assert.equal(seen.length, 4);
  for (const k of seen) assert.match(k, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(seen[0], seen[1], 'one URI, two spellings: one key');
  assert.notEqual(seen[0], seen[2], 'another URI');
  assert.notEqual(seen[0], seen[3], 'another jti');
  // A store that answers anything but true is a replay (fail closed).
  const odd = { checkAndStore: (): boolean => undefined as unknown as boolean };
  assert.equal(await code(verifyDpopProof([await proof(key, { htm: 'GET', htu: URL_ })], opts({ replay: odd }))), 'ERR_DPOP_REPLAY');
});

test('a full replay cache refuses in O(1) until its earliest entry can expire, then reclaims', () => {
  let clock = NOW;
  const cache = new InMemoryReplayCache({ maxEntries: 3, now: () => clock });
  // Out of expiry order, so the cheap head pass cannot reclaim and the full sweep runs.
  assert.equal(cache.checkAndStore('a', NOW + 30), true);
  assert.equal(cache.checkAndStore('b', NOW + 10), true);
  assert.equal(cache.checkAndStore('c', NOW + 20), true);
  clock = NOW + 5;
  assert.throws(() => cache.checkAndStore('d', NOW + 60), { name: 'ReplayCacheFullError' });
  clock = NOW + 10;
  assert.throws(() => cache.checkAndStore('d', NOW + 60), { name: 'ReplayCacheFullError' }, 'b is live through its expiry second');
  assert.equal(cache.checkAndStore('b', NOW + 60), false, 'and still a replay');
  clock = NOW + 10.5;
  assert.equal(cache.checkAndStore('d', NOW + 60), true, 'b expired: its slot is reclaimed');
  assert.equal(cache.checkAndStore('a', NOW + 60), false, 'nothing live was forgotten');
  assert.equal(cache.checkAndStore('c', NOW + 60), false);

  // Cost: a cache full of live entries answers a flood of new proofs without scanning itself each time. Scanning
  // 200,000 entries per refusal takes ~15 s for these 2,000 refusals; the bound is loose on purpose.
  const big = new InMemoryReplayCache({ maxEntries: 200_000, now: () => NOW });
  for (let i = 0; i < 200_000; i++) big.checkAndStore(`k${i}`, NOW + 60 - (i % 7));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 2_000; i++) assert.throws(() => big.checkAndStore(`n${i}`, NOW + 60), { name: 'ReplayCacheFullError' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(ms < 1_000, `2,000 refusals took ${ms.toFixed(0)} ms`);
});

test('task token: authorization_details, cnf.jkt, aud, act and scope must have their JSON types', async () => {
  const signer = await testKey('ES256');
  const dpopKey = await testKey('ES256');
  const keys = tokenKeysFromJwks({ keys: [{ ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256' }] });
  const priv = createPrivateKey({ key: (await exportJWK(signer.privateKey)) as NodeJwk, format: 'jwk' });
  const claims: TaskTokenClaims = {
    iss: 'https://writ.example',
    sub: 'dev:alice',
    aud: 'https://writ.example/r/api',
    client_id: 'agent',
    act: { sub: 'agent' },
    authorization_details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }],
    cnf: { jkt: dpopKey.jkt },
    jti: 'tok',
    iat: NOW,
    exp: NOW + 300,
    task_id: 'task',
    task_chain: [],
  };
  const signed = (payload: string): string => {
    const h = b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' });
    return `${h}.${payload}.${sign('sha256', Buffer.from(`${h}.${payload}`), { key: priv, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const check = (token: string): Promise<string> =>
    code(() => verifyTaskToken(token, { issuer: claims.iss, audience: claims.aud, keys, clockSkewSeconds: 5, now: () => NOW }));
  const verify = (c: Record<string, unknown>): Promise<string> => check(signed(b64(c)));
  const http = { type: 'http', actions: ['GET'], paths: ['/x'] };
  const table: Array<[string, Record<string, unknown>, string]> = [
    ['control', { ...claims }, 'accepted'],
    ['unknown detail types are kept', { ...claims, authorization_details: [{ type: 'payment', amount: 1 }, http] }, 'accepted'],
    ['an mcp detail', { ...claims, authorization_details: [{ type: 'mcp', tools: ['t'] }] }, 'accepted'],
    ['http with locations', { ...claims, authorization_details: [{ ...http, locations: ['https://writ.example/r/api'] }] }, 'accepted'],
    ['a detail that is a string', { ...claims, authorization_details: ['http'] }, 'ERR_TOKEN_CLAIMS'],
    ['a detail that is null', { ...claims, authorization_details: [null] }, 'ERR_TOKEN_CLAIMS'],
    ['a detail without type', { ...claims, authorization_details: [{ actions: ['GET'], paths: ['/x'] }] }, 'ERR_TOKEN_CLAIMS'],
    [
      'http locations a string',
      { ...claims, authorization_details: [{ ...http, locations: 'https://writ.example/r/api-x' }] },
      'ERR_TOKEN_CLAIMS',
    ],
    ['http actions a string', { ...claims, authorization_details: [{ ...http, actions: 'GET' }] }, 'ERR_TOKEN_CLAIMS'],
    ['http paths with a number', { ...claims, authorization_details: [{ ...http, paths: ['/x', 1] }] }, 'ERR_TOKEN_CLAIMS'],
    ['http without paths', { ...claims, authorization_details: [{ type: 'http', actions: ['GET'] }] }, 'ERR_TOKEN_CLAIMS'],
    ['authorization_details an object', { ...claims, authorization_details: http }, 'ERR_TOKEN_CLAIMS'],
    ['cnf.jkt empty', { ...claims, cnf: { jkt: '' } }, 'ERR_TOKEN_CLAIMS'],
    ['cnf.jkt not a thumbprint', { ...claims, cnf: { jkt: 'x'.repeat(42) } }, 'ERR_TOKEN_CLAIMS'],
    ['cnf an array', { ...claims, cnf: [dpopKey.jkt] }, 'ERR_TOKEN_CLAIMS'],
    ['aud empty', { ...claims, aud: '' }, 'ERR_TOKEN_CLAIMS'],
    ['aud an empty array', { ...claims, aud: [] }, 'ERR_TOKEN_CLAIMS'],
    ['act sub empty', { ...claims, act: { sub: '' } }, 'ERR_TOKEN_CLAIMS'],
    ['act an array', { ...claims, act: [{ sub: 'agent' }] }, 'ERR_TOKEN_CLAIMS'],
    ['scope a list', { ...claims, scope: ['a'] }, 'ERR_TOKEN_CLAIMS'],
    ['scope a string', { ...claims, scope: 'a b' }, 'accepted'],
    ['task_chain with a number', { ...claims, task_chain: ['t', 2] }, 'ERR_TOKEN_CLAIMS'],
  ];
  for (const [name, c, expected] of table) assert.equal(await verify(c), expected, name);
  // act nesting is bounded.
  let deep: Record<string, unknown> = { sub: 'a' };
  for (let i = 0; i < 40; i++) deep = { sub: `a${i}`, act: deep };
  assert.equal(await verify({ ...claims, act: deep }), 'ERR_TOKEN_CLAIMS', 'act nested 41 deep');
  // A numeric claim of 1e400 is Infinity after JSON.parse: not finite, refused.
  const inf = Buffer.from(JSON.stringify({ ...claims, exp: 0 }).replace('"exp":0', '"exp":1e400')).toString('base64url');
  assert.equal(await check(signed(inf)), 'ERR_TOKEN_CLAIMS');
});

test('matching never reads a loosely typed detail as a grant', () => {
  const R = 'https://writ.example/r/api';
  const d = (extra: Record<string, unknown>): AuthorizationDetail =>
    ({ type: 'http', actions: ['GET'], paths: ['/**'], ...extra }) as unknown as AuthorizationDetail;
  // A string `locations` would otherwise be a substring test (String.prototype.includes).
  assert.equal(matchAuthorizationDetails([d({ locations: `${R}-and-more` })], { resource: R, method: 'GET', path: '/x' }), false);
  assert.equal(matchAuthorizationDetails([d({ actions: 'GET' })], { resource: R, method: 'GET', path: '/x' }), false);
  assert.equal(matchAuthorizationDetails([d({})], { resource: R, method: 'GET', path: '/x' }), true, 'control');
});

test('paths: path-parameter traversal, double encoding and invalid UTF-8 escapes are refused', () => {
  const bad = [
    '/public/..;/admin',
    '/public/..;x=1/admin',
    '/public/.;/admin',
    '/public/%2e%2e;/admin',
    '/public/;/admin',
    '/public/;jsessionid=1',
    '/v1/%252e%252e/admin',
    '/v1/%252F',
    '/v1/a%25%32%65',
    '/v1/%C0%AF',
    '/v1/%C0%AE%C0%AE',
    '/v1/%E0%80%AF',
    '/v1/%FF',
    '/v1/%C3',
    '/v1/%C3a',
    '/v1/%ED%A0%80',
    '/v1/%F4%90%80%80',
  ];
  for (const raw of bad)
    assert.throws(
      () => normalizeRequestPath(raw),
      (e: unknown) => e instanceof WritError && e.code === 'ERR_PATH_INVALID',
      raw,
    );
  const ok: Array<[string, string]> = [
    ['/v1/a;b=c', '/v1/a;b=c'],
    ['/v1/..a;b', '/v1/..a;b'],
    ['/v1/100%25', '/v1/100%25'],
    ['/v1/50%25off', '/v1/50%25off'],
    ['/v1/%c3%a9%e2%82%ac', '/v1/%C3%A9%E2%82%AC'],
    ['/v1/%F0%9F%98%80x', '/v1/%F0%9F%98%80x'],
  ];
  for (const [raw, canonical] of ok) assert.equal(normalizeRequestPath(raw), canonical, raw);
  for (const pattern of ['/v1/..;/x', '/v1/%252e', '/v1/%C0%AF', '/v1/;x'])
    assert.throws(() => canonicalPathPattern(pattern), PathPatternError, pattern);
});

test('revocation of everything: entries merge to the later cut-off and the later expiry, in any order', () => {
  const claims = {
    iat: 1_000,
    jti: 't',
    task_id: 'k',
    task_chain: [],
    client_id: 'a',
    act: { sub: 'a' },
    sub: 'u',
    cnf: { jkt: 'j' },
  } as unknown as TaskTokenClaims;
  const set = new RevocationSet();
  set.apply({ seq: 1, target: { type: 'all', before: 1_010 }, expiresAt: 5_000 });
  set.apply({ seq: 2, target: { type: 'all', before: 990 }, expiresAt: 9_000 });
  assert.equal(set.check(claims, 'j'), 'ERR_REVOKED_ALL');
  assert.equal(set.prune(6_000), 0, 'the later expiry is kept');
  assert.equal(set.check(claims, 'j'), 'ERR_REVOKED_ALL', 'with the later cut-off');
  assert.equal(set.prune(9_001), 1);
  assert.equal(set.check(claims, 'j'), null);
});

test('DPoP nonces: the current and the previous window are accepted, in exactly the spelling issued', () => {
  let clock = NOW;
  const nonces = createDpopNonces({ key: Buffer.alloc(32, 1), windowSeconds: 60, now: () => clock });
  const n = nonces.current();
  assert.equal(nonces.check(n), true);
  assert.equal(nonces.current(), n, 'stable within a window');
  const [w, mac] = n.split('.') as [string, string];
  for (const variant of [
    `${w.toUpperCase()}.${mac}`,
    `0${w}.${mac}`,
    `${w}.${mac}=`,
    `${w}x.${mac}`,
    `${w}.${mac.slice(0, -1)}${String.fromCharCode((mac.at(-1) as string).charCodeAt(0) ^ 1)}`,
    `${w}.${mac}A`,
  ])
    if (variant !== n) assert.equal(nonces.check(variant), false, variant);
  assert.equal(nonces.check(undefined), false);
  assert.equal(nonces.check(''), false);
  clock += 60;
  assert.equal(nonces.check(n), true, 'previous window');
  assert.notEqual(nonces.current(), n);
  clock += 60;
  assert.equal(nonces.check(n), false, 'two windows old');
  const other = createDpopNonces({ key: Buffer.alloc(32, 2), windowSeconds: 60, now: () => clock });
  assert.equal(nonces.check(other.current()), false, 'another key');
});
