/**
 * verifyJwt must reach jose.jwtVerify's verdict on every input: the same payload when it accepts, the same error
 * class, code and message when it refuses. Differential, over keys of every fast-path algorithm and some it hands to
 * jose, key sets that choose by kid, alg, use and key_ops (and match several keys), claims at and around every time
 * boundary, headers jose treats specially, and tampered encodings and signatures. It also proves that the fast path
 * is the one taken for valid tokens.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { test } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JWK, type JWTVerifyOptions } from 'jose';
import { VerifiedSignatureCache, verifyJwt, type JwtVerifyStats } from '../../src/identity/index.js';

const NOW = 1_764_000_000;
const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

interface TestKey {
  alg: string;
  privateKey: KeyObject;
  jwk: JWK;
}

function key(alg: string, kid: string, opts: { bits?: number; curve?: string } = {}): TestKey {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg.startsWith('ES')
        ? generateKeyPairSync('ec', { namedCurve: opts.curve ?? 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: opts.bits ?? 2048 });
  return { alg, privateKey: pair.privateKey, jwk: { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid } };
}

function signJws(k: TestKey, header: Record<string, unknown>, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`;
  // The signer's own algorithm, whatever the header claims: a header that lies must fail like jose fails it.
  const alg = k.alg;
  const data = Buffer.from(input);
  const sig =
    alg === 'EdDSA'
      ? sign(null, data, k.privateKey)
      : alg === 'PS256'
        ? sign('sha256', data, { key: k.privateKey, padding: 6, saltLength: 32 })
        : alg === 'ES384'
          ? sign('sha384', data, { key: k.privateKey, dsaEncoding: 'ieee-p1363' })
          : sign('sha256', data, { key: k.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

function withoutKid(jwk: JWK): JWK {
  const { kid: _kid, ...rest } = jwk;
  return rest;
}

type Outcome = { ok: true; payload: unknown } | { ok: false; name: string; code: unknown; message: string };

async function outcome(p: Promise<{ payload: unknown }>): Promise<Outcome> {
  try {
    return { ok: true, payload: (await p).payload };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { ok: false, name: e.constructor.name, code: e.code, message: e.message };
  }
}

test('differential: verifyJwt decides exactly as jose.jwtVerify, and takes the fast path for valid tokens', async () => {
  const es = key('ES256', 'es');
  const ed = key('EdDSA', 'ed');
  const rs = key('RS256', 'rs');
  const ps = { ...key('PS256', 'ps') };
  const small = key('RS256', 'small', { bits: 1024 });
  const p384 = key('ES384', 'p384', { curve: 'P-384' });
  const other = key('ES256', 'es');
  const keySets: Array<[string, JWK[]]> = [
    ['plain', [es.jwk, ed.jwk, rs.jwk, ps.jwk, small.jwk, p384.jwk]],
    [
      'alg members',
      [
        { ...es.jwk, alg: 'ES256' },
        { ...rs.jwk, alg: 'PS256' },
        { ...ed.jwk, alg: 'EdDSA', use: 'sig' },
      ],
    ],
    ['no kids', [withoutKid(es.jwk), withoutKid(ed.jwk)]],
    ['two matches', [es.jwk, { ...other.jwk }]],
    ['use enc', [{ ...es.jwk, use: 'enc' }, ed.jwk]],
    [
      'key_ops',
      [
        { ...es.jwk, key_ops: ['verify'] },
        { ...ed.jwk, key_ops: ['sign'] },
        { ...rs.jwk, key_ops: ['verify', 'verify'] },
      ],
    ],
  ];
  const signers = [es, ed, rs, ps, small, p384, other];
  const base = { iss: 'agent-1', sub: 'agent-1', aud: 'https://writ.example/oauth2/token', jti: 'j1', iat: NOW, exp: NOW + 60 };
  const payloads: unknown[] = [
    base,
    { ...base, aud: ['x', 'https://writ.example'] },
    { ...base, aud: ['x', 'y'] },
    { ...base, aud: 7 },
    { ...base, iss: 'agent-2' },
    { ...base, sub: undefined },
    { ...base, jti: undefined },
    { ...base, exp: undefined },
    { ...base, exp: NOW - 5 },
    { ...base, exp: NOW - 6 },
    { ...base, exp: NOW + 0.5 },
    { ...base, exp: '9999999999' },
    { ...base, nbf: NOW + 5 },
    { ...base, nbf: NOW + 6 },
    { ...base, iat: 'yesterday' },
    { ...base, nested: { deep: [1, 2, { x: null }] } },
    [base],
    'not an object',
  ];
  const headers = (k: TestKey): Array<Record<string, unknown>> => [
    { alg: k.alg, kid: k.jwk.kid },
    { alg: k.alg },
    { alg: k.alg, kid: 'unknown' },
    { alg: k.alg, kid: 7 },
    { alg: k.alg, kid: k.jwk.kid, typ: 'JWT' },
    { alg: k.alg, kid: k.jwk.kid, crit: ['b64'], b64: true },
    { alg: k.alg, kid: k.jwk.kid, crit: ['exp'] },
    { alg: k.alg, kid: k.jwk.kid, b64: false, crit: ['b64'] },
    { alg: k.alg === 'ES256' ? 'PS256' : 'ES256', kid: k.jwk.kid },
    { alg: 'none', kid: k.jwk.kid },
    { alg: 'HS256', kid: k.jwk.kid },
  ];
  const tamper = (t: string): string[] => {
    const [h, p, s] = t.split('.') as [string, string, string];
    const flipped = `${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`;
    const last = s.slice(-1);
    const stray = `${s.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
    return [
      t,
      `${h}.${p}.${flipped}`,
      `${h}.${p}.${s.slice(0, -4)}`,
      `${h}.${p}.${stray}`,
      `${h}.${p}.`,
      `${h}.${p}`,
      `${h} .${p}.${s}`,
      `${h}.${p}=.${s}`,
      `${h}.${b64('{"iss":')}.${s}`,
      `${t}.x`,
    ];
  };
  const options: JWTVerifyOptions & { algorithms: string[] } = {
    issuer: 'agent-1',
    subject: 'agent-1',
    audience: ['https://writ.example/oauth2/token', 'https://writ.example'],
    algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256', 'ES384'],
    clockTolerance: 5,
    requiredClaims: ['exp', 'jti'],
    currentDate: new Date(NOW * 1000),
  };
  const variants: Array<JWTVerifyOptions & { algorithms: string[] }> = [
    options,
    { ...options, algorithms: ['ES256'] },
    { ...options, typ: 'JWT' },
    { ...options, maxTokenAge: 30 },
  ];

  const stats: JwtVerifyStats = { fast: 0, jose: 0, cached: 0 };
  const cache = new VerifiedSignatureCache();
  let compared = 0;
  let accepted = 0;
  // Three sweeps instead of the full product (which takes minutes): headers × tampering, payloads × options, and
  // headers × payloads on one key set.
  const cases: Array<[string, JWK[], string, JWTVerifyOptions & { algorithms: string[] }]> = [];
  for (const [setName, keys] of keySets) {
    for (const signer of signers) {
      for (const header of headers(signer)) for (const t of tamper(signJws(signer, header, base))) cases.push([setName, keys, t, options]);
      for (const payload of payloads)
        for (const opts of variants) cases.push([setName, keys, signJws(signer, { alg: signer.alg, kid: signer.jwk.kid }, payload), opts]);
      if (setName === 'plain')
        for (const header of headers(signer))
          for (const payload of payloads) cases.push([setName, keys, signJws(signer, header, payload), options]);
    }
  }
  const sets = new Map(keySets.map(([name, keys]) => [name, createLocalJWKSet({ keys })]));
  for (const [setName, , token, opts] of cases) {
    const set = sets.get(setName) as ReturnType<typeof createLocalJWKSet>;
    const want = await outcome(jwtVerify(token, set, opts));
    const got = await outcome(verifyJwt(token, set, opts, stats));
    assert.deepEqual(got, want, `${setName}, ${JSON.stringify(opts)}: ${token}`);
    // With the signature cache: filled by the first call, used by the second; both must still be jose's verdict.
    for (const pass of ['fill', 'hit']) {
      const cachedOutcome = await outcome(verifyJwt(token, set, opts, stats, cache));
      assert.deepEqual(cachedOutcome, want, `${pass} through the signature cache, ${setName}, ${JSON.stringify(opts)}: ${token}`);
    }
    compared++;
    if (want.ok) accepted++;
  }
  assert.ok(compared > 8_000, `compared ${compared}`);
  assert.ok(accepted > 150, `accepted ${accepted}`);
  // Every accepted token whose header, key and options allow it was decided on the fast path, not by jose; and the
  // signature cache answered for tokens seen before.
  assert.ok(stats.fast >= accepted * 0.5, JSON.stringify({ stats, accepted }));
  assert.ok((stats.cached ?? 0) >= accepted, JSON.stringify({ stats, accepted }));
});

test('a key set error is the one jose reports, from the same key set call', async () => {
  const es = key('ES256', 'es');
  const token = signJws(es, { alg: 'ES256', kid: 'es' }, { sub: 'x', exp: NOW + 60 });
  let calls = 0;
  const failing = (): Promise<never> => {
    calls++;
    return Promise.reject(new Error(`JWKS fetch failed (${calls})`));
  };
  await assert.rejects(
    verifyJwt(token, failing, { algorithms: ['ES256'], currentDate: new Date(NOW * 1000) }),
    /^Error: JWKS fetch failed \(1\)$/,
  );
  assert.equal(calls, 1, 'the key set is asked once, as jose would ask it');
});

test('the signature cache holds a verdict only for the key object that verified it: a rotated key under the same kid is checked again', async () => {
  const first = key('ES256', 'same-kid');
  const second = key('ES256', 'same-kid');
  const token = signJws(first, { alg: 'ES256', kid: 'same-kid' }, { sub: 'x', exp: NOW + 60 });
  const opts = { algorithms: ['ES256'], currentDate: new Date(NOW * 1000) };
  const cache = new VerifiedSignatureCache({ maxEntries: 2 });
  const stats: JwtVerifyStats = { fast: 0, jose: 0, cached: 0 };
  const before = createLocalJWKSet({ keys: [first.jwk] });
  assert.equal((await verifyJwt(token, before, opts, stats, cache)).payload['sub'], 'x');
  assert.equal((await verifyJwt(token, before, opts, stats, cache)).payload['sub'], 'x');
  assert.equal(stats.cached, 1);
  // The same token under a key set that now names another key (the same kid): jose's verdict, not the cached one.
  const rotated = createLocalJWKSet({ keys: [second.jwk] });
  await assert.rejects(verifyJwt(token, rotated, opts, stats, cache), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  // Even an identical JWK in a new key set is a new key object: checked again, not trusted from the cache.
  const again = createLocalJWKSet({ keys: [first.jwk] });
  assert.equal((await verifyJwt(token, again, opts, stats, cache)).payload['sub'], 'x');
  assert.equal(stats.cached, 1);
  // Claims are checked on every use: the cached signature does not carry an expired token.
  await assert.rejects(verifyJwt(token, again, { ...opts, currentDate: new Date((NOW + 120) * 1000) }, stats, cache), {
    code: 'ERR_JWT_EXPIRED',
  });
  assert.ok(cache.size <= 2);
});
