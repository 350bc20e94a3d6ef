/** Task-token verification (RFC 9068 §4), the verified-token cache, and the whole per-call check with revocation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHmac, createPrivateKey, createPublicKey, sign as nodeSign, type JsonWebKey as NodeJwk } from 'node:crypto';
import { SignJWT, exportJWK } from 'jose';
import { AUDIT_CHECKPOINT_KID_PREFIX, SET_KID_PREFIX, WritError, type TaskTokenClaims } from '@writ/protocol';
import {
  checkCall,
  InMemoryReplayCache,
  RevocationSet,
  tokenKeysFromJwks,
  verifyTaskToken,
  VerifiedTokenCache,
  type CheckCallContext,
} from '../src/internal.js';
import { ath, NOW, proof, testKey, type TestKey } from './helpers.js';

const ISS = 'https://writ.example';
const AUD = 'https://writ.example/r/api';
const URL_ = `${AUD}/v1/projects`;

async function setup(): Promise<{
  signer: TestKey;
  keysJwks: { keys: Record<string, unknown>[] };
  dpop: TestKey;
  claims: TaskTokenClaims;
  sign: (c: Record<string, unknown>, h?: Record<string, unknown>) => Promise<string>;
}> {
  const signer = await testKey('ES256');
  const dpop = await testKey('ES256');
  const keysJwks = { keys: [{ ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256' }] };
  const claims: TaskTokenClaims = {
    iss: ISS,
    sub: 'dev:alice',
    aud: AUD,
    client_id: 'child',
    act: { sub: 'child', act: { sub: 'parent' } },
    authorization_details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }],
    cnf: { jkt: dpop.jkt },
    jti: 'tok_1',
    iat: NOW - 10,
    exp: NOW + 600,
    task_id: 'task_child',
    task_chain: ['task_root', 'task_parent'],
  };
  const sign = (c: Record<string, unknown>, h: Record<string, unknown> = {}): Promise<string> =>
    new SignJWT(c).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', ...h }).sign(signer.privateKey);
  return { signer, keysJwks, dpop, claims, sign };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    if (err instanceof WritError) return err.code;
    throw err;
  }
}

test('task token checks, each with its code', async () => {
  const { keysJwks, claims, sign } = await setup();
  const keys = tokenKeysFromJwks(keysJwks);
  const verify = (t: string, over: Partial<Parameters<typeof verifyTaskToken>[1]> = {}): string =>
    codeOf(() => verifyTaskToken(t, { issuer: ISS, audience: AUD, keys, clockSkewSeconds: 5, now: () => NOW, ...over }));
  const { cnf: _c, ...noCnf } = claims;
  const cases: Array<[string, Promise<string> | string, string]> = [
    ['valid', sign({ ...claims }), 'accepted'],
    ['typ JWT', sign({ ...claims }, { typ: 'JWT' }), 'ERR_TOKEN_TYPE'],
    ['typ application/at+jwt', sign({ ...claims }, { typ: 'application/at+jwt' }), 'accepted'],
    ['unknown kid', sign({ ...claims }, { kid: 'k2' }), 'ERR_TOKEN_KID_UNKNOWN'],
    ['expired', sign({ ...claims, exp: NOW - 6 }), 'ERR_TOKEN_EXPIRED'],
    ['expired within skew', sign({ ...claims, exp: NOW - 4 }), 'accepted'],
    ['nbf in the future', sign({ ...claims, nbf: NOW + 60 }), 'ERR_TOKEN_NOT_YET_VALID'],
    ['iat in the future', sign({ ...claims, iat: NOW + 60 }), 'ERR_TOKEN_NOT_YET_VALID'],
    ['wrong issuer', sign({ ...claims, iss: 'https://evil.example' }), 'ERR_TOKEN_ISSUER'],
    ['wrong audience', sign({ ...claims, aud: 'https://writ.example/r/other' }), 'ERR_TOKEN_AUDIENCE'],
    ['audience in an array', sign({ ...claims, aud: ['x', AUD] }), 'accepted'],
    // A bearer task token (no cnf) is a well-formed token; checkCall decides whether bearer use is accepted.
    ['no cnf', sign({ ...noCnf }), 'accepted'],
    ['task_chain not an array', sign({ ...claims, task_chain: 'task_root' }), 'ERR_TOKEN_CLAIMS'],
    ['act without sub', sign({ ...claims, act: { act: { sub: 'x' } } }), 'ERR_TOKEN_CLAIMS'],
    ['no authorization_details', sign({ ...claims, authorization_details: undefined }), 'ERR_TOKEN_CLAIMS'],
    ['exp a string', sign({ ...claims, exp: String(NOW + 600) }), 'ERR_TOKEN_CLAIMS'],
    ['garbage', 'a.b', 'ERR_TOKEN_MALFORMED'],
  ];
  for (const [name, t, expected] of cases) assert.equal(verify(await t), expected, name);
  assert.equal(
    verify(await sign({ ...claims, aud: 'https://writ.example/r/other' }), { audience: null }),
    'accepted',
    'audience null skips the audience check',
  );
  const rsKey = tokenKeysFromJwks({ keys: [{ ...keysJwks.keys[0], alg: 'RS256' }] });
  assert.equal(verify(await sign({ ...claims }), { keys: rsKey }), 'ERR_TOKEN_ALG', "token alg must be the key's alg");
});

test('the verified-token cache skips the signature on a hit but still enforces time, issuer and audience', async () => {
  const { keysJwks, claims, sign } = await setup();
  const cache = new VerifiedTokenCache({ maxEntries: 10 });
  const keys = tokenKeysFromJwks(keysJwks);
  const token = await sign({ ...claims });
  const base = { issuer: ISS, audience: AUD, clockSkewSeconds: 5, cache, keys };
  verifyTaskToken(token, { ...base, now: () => NOW });
  assert.equal(cache.size, 1);
  // Proof that a hit skips the signature: an entry planted for a string that was never signed is accepted.
  const key = keys.get('k1')?.key;
  assert.ok(key !== undefined);
  const unsigned = `${token.split('.').slice(0, 2).join('.')}.AAAA`;
  assert.equal(
    codeOf(() => verifyTaskToken(unsigned, { ...base, now: () => NOW })),
    'ERR_TOKEN_SIGNATURE',
    'control: not a hit yet',
  );
  cache.set(unsigned, { claims, kid: 'k1', key });
  assert.equal(
    codeOf(() => verifyTaskToken(unsigned, { ...base, now: () => NOW })),
    'accepted',
    'hit: no signature check',
  );
  // ... but every call still checks time, issuer and audience.
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, now: () => NOW + 700 })),
    'ERR_TOKEN_EXPIRED',
  );
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, now: () => NOW - 100 })),
    'ERR_TOKEN_NOT_YET_VALID',
  );
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, now: () => NOW, audience: 'https://writ.example/r/other' })),
    'ERR_TOKEN_AUDIENCE',
  );
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, now: () => NOW, issuer: 'https://other.example' })),
    'ERR_TOKEN_ISSUER',
  );
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, now: () => NOW })),
    'accepted',
    'and the entry survives refusals',
  );
  // Same signature segment, other claims: not a hit, and the signature fails.
  const [, , sig] = token.split('.');
  const other = await sign({ ...claims, jti: 'tok_2' });
  const spliced = `${other.split('.').slice(0, 2).join('.')}.${sig}`;
  assert.equal(
    codeOf(() => verifyTaskToken(spliced, { ...base, now: () => NOW })),
    'ERR_TOKEN_SIGNATURE',
  );
});

test('the verified-token cache: a hit counts only while the kid still names the key that verified it', async () => {
  const { keysJwks, claims, sign } = await setup();
  const cache = new VerifiedTokenCache();
  const keys = tokenKeysFromJwks(keysJwks);
  const token = await sign({ ...claims });
  const base = { issuer: ISS, audience: AUD, clockSkewSeconds: 5, cache, now: () => NOW };
  verifyTaskToken(token, { ...base, keys });
  // The signing key withdrawn from the JWKS: the cached token dies with it.
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: tokenKeysFromJwks({ keys: [] }) })),
    'ERR_TOKEN_KID_UNKNOWN',
  );
  // The kid now names another key (a cache shared with another key set, or a replaced key): verified afresh.
  const impostor = await testKey('ES256');
  const otherKeys = tokenKeysFromJwks({ keys: [{ ...(await exportJWK(impostor.publicKey)), kid: 'k1', alg: 'ES256' }] });
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: otherKeys })),
    'ERR_TOKEN_SIGNATURE',
  );
  // The same key material re-read (a JWKS refresh): one fresh verification, then hits again.
  const refreshed = tokenKeysFromJwks(keysJwks);
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: refreshed })),
    'accepted',
  );
  // This call's algorithm list applies to hits too.
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: refreshed, algorithms: ['EdDSA'] })),
    'ERR_TOKEN_ALG',
  );
  // Claims are shared between calls, so they are frozen.
  const c = verifyTaskToken(token, { ...base, keys: refreshed });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.authorization_details[0]) && Object.isFrozen(c.act.act));
  assert.throws(() => {
    (c as { jti: string }).jti = 'x';
  }, TypeError);
});

test('checkCall: authorization header rules, binding and every revocation target', async () => {
  const { keysJwks, dpop, claims, sign } = await setup();
  const token = await sign({ ...claims });
  const revocations = new RevocationSet();
  const ctx = (): CheckCallContext => ({
    issuer: ISS,
    audience: AUD,
    keys: tokenKeysFromJwks(keysJwks),
    replay: new InMemoryReplayCache({ now: () => NOW }),
    revocations,
    maxAgeSeconds: 60,
    clockSkewSeconds: 5,
    now: () => NOW,
  });
  const call = async (authorization: string[], key: TestKey = dpop, t = token): Promise<string> => {
    try {
      await checkCall({ method: 'GET', url: URL_, authorization, dpop: [await proof(key, { htm: 'GET', htu: URL_, ath: ath(t) })] }, ctx());
      return 'accepted';
    } catch (err) {
      if (err instanceof WritError) return err.code;
      throw err;
    }
  };
  assert.equal(await call([`DPoP ${token}`]), 'accepted');
  assert.equal(await call([]), 'ERR_AUTH_MISSING');
  assert.equal(await call([`DPoP ${token}`, 'Bearer stolen-upstream-token']), 'ERR_AUTH_MULTIPLE');
  assert.equal(await call([`Bearer ${token}`]), 'ERR_AUTH_SCHEME');
  assert.equal(await call([`Basic ${token}`]), 'ERR_AUTH_MALFORMED');
  assert.equal(await call(['DPoP a b']), 'ERR_AUTH_MALFORMED');
  assert.equal(await call([`DPoP ${token}`], await testKey('ES256')), 'ERR_DPOP_BINDING');
  const targets: Array<[Parameters<RevocationSet['apply']>[0]['target'], string]> = [
    [{ type: 'token', jti: 'tok_1' }, 'ERR_REVOKED_TOKEN'],
    [{ type: 'task', taskId: 'task_child' }, 'ERR_REVOKED_TASK'],
    [{ type: 'task', taskId: 'task_root' }, 'ERR_REVOKED_TASK'],
    [{ type: 'agent', agentId: 'parent', before: NOW - 10 }, 'ERR_REVOKED_AGENT'],
    [{ type: 'user', userId: 'dev:alice', before: NOW }, 'ERR_REVOKED_USER'],
    [{ type: 'key', jkt: dpop.jkt, before: NOW }, 'ERR_REVOKED_KEY'],
    [{ type: 'all', before: NOW }, 'ERR_REVOKED_ALL'],
  ];
  let seq = 0;
  for (const [target, expected] of targets) {
    const fresh = new RevocationSet();
    fresh.apply({ seq: ++seq, target, expiresAt: NOW + 3600 });
    const c = { ...ctx(), revocations: fresh };
    const r = await checkCall(
      { method: 'GET', url: URL_, authorization: [`DPoP ${token}`], dpop: [await proof(dpop, { htm: 'GET', htu: URL_, ath: ath(token) })] },
      c,
    ).then(
      () => 'accepted',
      (e: WritError) => e.code,
    );
    assert.equal(r, expected, JSON.stringify(target));
  }
  // Revocations with `before` spare tokens issued after them.
  const later = new RevocationSet();
  later.apply({ seq: 1, target: { type: 'agent', agentId: 'child', before: NOW - 11 }, expiresAt: NOW + 3600 });
  const ok = await checkCall(
    { method: 'GET', url: URL_, authorization: [`DPoP ${token}`], dpop: [await proof(dpop, { htm: 'GET', htu: URL_, ath: ath(token) })] },
    { ...ctx(), revocations: later },
  );
  assert.equal(ok.claims.jti, 'tok_1');
});

test('RevocationSet: lastSeq, size, pruning only what can no longer hit', () => {
  const set = new RevocationSet();
  set.apply({ seq: 3, target: { type: 'task', taskId: 'a' }, expiresAt: 100 });
  set.apply({ seq: 5, target: { type: 'user', userId: 'u', before: 50 }, expiresAt: 200 });
  set.apply({ seq: 4, target: { type: 'all', before: 10 }, expiresAt: 150 });
  assert.equal(set.lastSeq, 5);
  assert.equal(set.size, 3);
  assert.equal(set.prune(120), 1);
  assert.equal(set.size, 2);
  assert.equal(set.prune(201), 2);
  assert.equal(set.size, 0);
});

function b64(o: unknown): string {
  return Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
}

test('task token: algorithm, type and key refusals', async () => {
  const { signer, keysJwks, claims, sign } = await setup();
  const keys = tokenKeysFromJwks(keysJwks);
  const verify = (t: string, over: Partial<Parameters<typeof verifyTaskToken>[1]> = {}): string =>
    codeOf(() => verifyTaskToken(t, { issuer: ISS, audience: AUD, keys, clockSkewSeconds: 5, now: () => NOW, ...over }));
  const payload = b64(claims);
  const priv = createPrivateKey({ key: (await exportJWK(signer.privateKey)) as NodeJwk, format: 'jwk' });
  const spki = createPublicKey(priv).export({ type: 'spki', format: 'pem' }) as string;
  const hs = (secret: string | Buffer): string => {
    const h = b64({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' });
    return `${h}.${payload}.${createHmac('sha256', secret).update(`${h}.${payload}`).digest('base64url')}`;
  };
  const raw = (header: Record<string, unknown>, body = payload): string => {
    const h = b64(header);
    return `${h}.${body}.${nodeSign('sha256', Buffer.from(`${h}.${body}`), { key: priv, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const other = await testKey('ES256');
  const cases: Array<[string, string | Promise<string>, string, Partial<Parameters<typeof verifyTaskToken>[1]>?]> = [
    ['control: node-signed token', raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }), 'accepted'],
    ['typ missing', raw({ alg: 'ES256', kid: 'k1' }), 'ERR_TOKEN_TYPE'],
    ['typ dpop+jwt', sign({ ...claims }, { typ: 'dpop+jwt' }), 'ERR_TOKEN_TYPE'],
    ['typ AT+JWT (media types are case-insensitive)', sign({ ...claims }, { typ: 'AT+JWT' }), 'accepted'],
    ['typ a number', raw({ alg: 'ES256', typ: 1, kid: 'k1' }), 'ERR_TOKEN_TYPE'],
    ['alg none', `${b64({ alg: 'none', typ: 'at+jwt', kid: 'k1' })}.${payload}.`, 'ERR_TOKEN_ALG'],
    ['alg missing', raw({ typ: 'at+jwt', kid: 'k1' }), 'ERR_TOKEN_ALG'],
    ['HS256 keyed with the public key PEM', hs(spki), 'ERR_TOKEN_ALG'],
    ['HS256 keyed with the public JWK JSON', hs(JSON.stringify(keysJwks.keys[0])), 'ERR_TOKEN_ALG'],
    ['ES256 not among the allowed algorithms', sign({ ...claims }), 'ERR_TOKEN_ALG', { algorithms: ['EdDSA'] }],
    ['kid missing', raw({ alg: 'ES256', typ: 'at+jwt' }), 'ERR_TOKEN_KID_UNKNOWN'],
    ['kid a number', raw({ alg: 'ES256', typ: 'at+jwt', kid: 1 }), 'ERR_TOKEN_KID_UNKNOWN'],
    [
      'signed by another key under the known kid',
      new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }).sign(other.privateKey),
      'ERR_TOKEN_SIGNATURE',
    ],
    ['crit header', raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', crit: ['exp'] }), 'ERR_TOKEN_MALFORMED'],
    ['payload an array', raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }, b64([claims])), 'ERR_TOKEN_MALFORMED'],
    ['empty', '', 'ERR_TOKEN_MALFORMED'],
  ];
  for (const [name, t, expected, over] of cases) assert.equal(verify(await t, over), expected, name);
  // A JWKS entry without kid or alg, or one that cannot be read, is not a key: tokens naming it have an unknown kid.
  const partial = tokenKeysFromJwks({
    keys: [
      { ...keysJwks.keys[0], kid: undefined },
      { ...keysJwks.keys[0], kid: 'k1', alg: undefined },
      { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'k1', alg: 'ES256' },
    ],
  });
  assert.equal(verify(await sign({ ...claims }), { keys: partial }), 'ERR_TOKEN_KID_UNKNOWN');
});

test('task token: time, issuer and audience edges', async () => {
  const { keysJwks, claims, sign } = await setup();
  const keys = tokenKeysFromJwks(keysJwks);
  const verify = async (c: Record<string, unknown>, over: Partial<Parameters<typeof verifyTaskToken>[1]> = {}): Promise<string> => {
    const t = await sign(c);
    return codeOf(() => verifyTaskToken(t, { issuer: ISS, audience: AUD, keys, clockSkewSeconds: 5, now: () => NOW, ...over }));
  };
  const table: Array<[string, Record<string, unknown>, string]> = [
    ['exp exactly now − skew', { ...claims, exp: NOW - 5 }, 'ERR_TOKEN_EXPIRED'],
    ['exp just after now − skew', { ...claims, exp: NOW - 4.999 }, 'accepted'],
    ['nbf within the skew', { ...claims, nbf: NOW + 5 }, 'accepted'],
    ['nbf just beyond the skew', { ...claims, nbf: NOW + 5.001 }, 'ERR_TOKEN_NOT_YET_VALID'],
    ['iat within the skew', { ...claims, iat: NOW + 5 }, 'accepted'],
    ['iat just beyond the skew', { ...claims, iat: NOW + 5.001 }, 'ERR_TOKEN_NOT_YET_VALID'],
    ['iss with a trailing slash', { ...claims, iss: `${ISS}/` }, 'ERR_TOKEN_ISSUER'],
    ['iss in upper case', { ...claims, iss: ISS.toUpperCase() }, 'ERR_TOKEN_ISSUER'],
    ['aud an array without this resource', { ...claims, aud: ['https://writ.example/r/other', ISS] }, 'ERR_TOKEN_AUDIENCE'],
    ['aud an array with this resource', { ...claims, aud: ['https://writ.example/r/other', AUD] }, 'accepted'],
    ['aud a prefix of this resource', { ...claims, aud: 'https://writ.example/r/ap' }, 'ERR_TOKEN_AUDIENCE'],
    ['aud this resource with a trailing slash', { ...claims, aud: `${AUD}/` }, 'ERR_TOKEN_AUDIENCE'],
  ];
  for (const [name, c, expected] of table) assert.equal(await verify(c), expected, name);
  assert.equal(await verify({ ...claims, aud: ['https://writ.example/r/other'] }, { audience: null }), 'accepted', 'audience null skips');
  assert.equal(
    await verify({ ...claims, exp: NOW - 60 }, { audience: null }),
    'ERR_TOKEN_EXPIRED',
    'audience null skips only the audience',
  );
});

test('task token: every claim Writ relies on, missing or of the wrong type', async () => {
  const { keysJwks, claims, sign } = await setup();
  const keys = tokenKeysFromJwks(keysJwks);
  const verify = async (c: Record<string, unknown>): Promise<string> => {
    const t = await sign(c);
    return codeOf(() => verifyTaskToken(t, { issuer: ISS, audience: AUD, keys, clockSkewSeconds: 5, now: () => NOW }));
  };
  let deep: Record<string, unknown> = { sub: 'leaf' };
  for (let i = 0; i < 40; i++) deep = { sub: `a${i}`, act: deep };
  const bad: Array<[string, Record<string, unknown>]> = [];
  for (const name of ['iss', 'sub', 'client_id', 'jti', 'task_id']) {
    bad.push([`${name} missing`, { ...claims, [name]: undefined }]);
    bad.push([`${name} empty`, { ...claims, [name]: '' }]);
    bad.push([`${name} a number`, { ...claims, [name]: 1 }]);
  }
  for (const name of ['iat', 'exp']) {
    bad.push([`${name} missing`, { ...claims, [name]: undefined }]);
    bad.push([`${name} a string`, { ...claims, [name]: String(NOW) }]);
    bad.push([`${name} null`, { ...claims, [name]: null }]);
  }
  bad.push(
    ['nbf a string', { ...claims, nbf: String(NOW) }],
    ['nbf null', { ...claims, nbf: null }],
    ['aud missing', { ...claims, aud: undefined }],
    ['aud an empty array', { ...claims, aud: [] }],
    ['aud an array with a number', { ...claims, aud: [AUD, 1] }],
    ['aud a number', { ...claims, aud: 1 }],
    ['cnf null', { ...claims, cnf: null }],
    ['cnf a string', { ...claims, cnf: 'jkt' }],
    ['cnf.jkt missing', { ...claims, cnf: { 'x5t#S256': 'abc' } }],
    ['cnf.jkt a number', { ...claims, cnf: { jkt: 1 } }],
    ['task_chain missing', { ...claims, task_chain: undefined }],
    ['task_chain a string', { ...claims, task_chain: 'task_root' }],
    ['task_chain with a number', { ...claims, task_chain: ['task_root', 2] }],
    ['authorization_details missing', { ...claims, authorization_details: undefined }],
    ['authorization_details an object', { ...claims, authorization_details: { type: 'http' } }],
    ['act missing', { ...claims, act: undefined }],
    ['act a string', { ...claims, act: 'child' }],
    ['act.sub a number', { ...claims, act: { sub: 1 } }],
    ['nested act without sub', { ...claims, act: { sub: 'child', act: {} } }],
    ['nested act null', { ...claims, act: { sub: 'child', act: null } }],
    ['act chain deeper than 32', { ...claims, act: deep }],
    ['purpose a number', { ...claims, purpose: 1 }],
  );
  for (const [name, c] of bad) assert.equal(await verify(c), 'ERR_TOKEN_CLAIMS', name);
  for (const [name, c] of [
    ['all present', { ...claims }],
    ['purpose a string', { ...claims, purpose: 'triage' }],
    ['task_chain empty (a root task)', { ...claims, task_chain: [] }],
    ['authorization_details empty', { ...claims, authorization_details: [] }],
    ['act with no nested act', { ...claims, act: { sub: 'child' } }],
  ] as const)
    assert.equal(await verify(c), 'accepted', name);
});

test('the verified-token cache: only the identical token hits, expiry still applies, bounded LRU', async () => {
  const { keysJwks, claims, sign } = await setup();
  const keys = tokenKeysFromJwks(keysJwks);
  const cache = new VerifiedTokenCache({ maxEntries: 2 });
  const base = { issuer: ISS, audience: AUD, clockSkewSeconds: 5, cache, now: () => NOW };
  const token = await sign({ ...claims });
  // A miss that fails leaves nothing behind.
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: tokenKeysFromJwks({ keys: [] }) })),
    'ERR_TOKEN_KID_UNKNOWN',
  );
  assert.equal(cache.size, 0);
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys })),
    'accepted',
  );
  assert.equal(cache.size, 1);
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys, now: () => NOW + 605 })),
    'ERR_TOKEN_EXPIRED',
    'expiry on a hit',
  );
  const [h, p, s] = token.split('.') as [string, string, string];
  // Not hits — each is checked afresh:
  const sig = Buffer.from(s, 'base64url');
  const n = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
  const highS = Buffer.concat([
    sig.subarray(0, 32),
    Buffer.from((n - BigInt(`0x${sig.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0'), 'hex'),
  ]);
  const otherPayload = b64({
    ...claims,
    jti: 'tok_forged',
    authorization_details: [{ type: 'http', actions: ['DELETE'], paths: ['/**'] }],
  });
  for (const [name, t] of [
    ['the same signature on other claims', `${h}.${otherPayload}.${s}`],
    ['the same signature under another header', `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', x: 1 })}.${p}.${s}`],
  ] as const) {
    assert.equal(
      codeOf(() => verifyTaskToken(t, { ...base, keys })),
      'ERR_TOKEN_SIGNATURE',
      name,
    );
  }
  assert.equal(cache.size, 1, 'refused tokens are not cached');
  const twin = `${h}.${p}.${highS.toString('base64url')}`;
  assert.equal(
    codeOf(() => verifyTaskToken(twin, { ...base, keys })),
    'accepted',
    'the twin (high-S) signature verifies on its own, as its own entry',
  );
  assert.equal(cache.size, 2);
  // Bounded, least recently used out first: touch `token`, add a third, and the twin (untouched) goes.
  verifyTaskToken(token, { ...base, keys });
  const t3 = await sign({ ...claims, jti: 'tok_3' });
  verifyTaskToken(t3, { ...base, keys });
  assert.equal(cache.size, 2);
  assert.ok(cache.get(token) !== undefined, 'recently used: kept');
  assert.ok(cache.get(t3) !== undefined);
  assert.equal(cache.get(twin), undefined, 'least recently used: evicted');
  assert.throws(() => new VerifiedTokenCache({ maxEntries: 0 }), TypeError);
});

test('checkCall: the remaining refusals, and revocations that spare tokens issued after them', async () => {
  const { keysJwks, dpop, claims, sign } = await setup();
  const token = await sign({ ...claims });
  const ctx = (revocations = new RevocationSet()): CheckCallContext => ({
    issuer: ISS,
    audience: AUD,
    keys: tokenKeysFromJwks(keysJwks),
    replay: new InMemoryReplayCache({ now: () => NOW }),
    revocations,
    maxAgeSeconds: 60,
    clockSkewSeconds: 5,
    now: () => NOW,
  });
  const run = async (req: Partial<Parameters<typeof checkCall>[0]>, c = ctx()): Promise<string> =>
    checkCall(
      {
        method: 'GET',
        url: URL_,
        authorization: [`DPoP ${token}`],
        dpop: [await proof(dpop, { htm: 'GET', htu: URL_, ath: ath(token) })],
        ...req,
      },
      c,
    ).then(
      () => 'accepted',
      (e: unknown) => {
        if (e instanceof WritError) return e.code;
        throw e;
      },
    );
  assert.equal(await run({}), 'accepted');
  assert.equal(await run({ authorization: [`dpop ${token}`] }), 'accepted', 'the scheme is case-insensitive');
  assert.equal(await run({ authorization: [`DPoP ${token}`, `DPoP ${token}`] }), 'ERR_AUTH_MULTIPLE', 'even the same value twice');
  assert.equal(await run({ authorization: [`bearer ${token}`] }), 'ERR_AUTH_SCHEME');
  assert.equal(await run({ authorization: [token] }), 'ERR_AUTH_MALFORMED', 'no scheme');
  assert.equal(await run({ authorization: ['DPoP '] }), 'ERR_AUTH_MALFORMED', 'no token');
  assert.equal(await run({ authorization: [`DPoP ${token}\r\nX: y`] }), 'ERR_AUTH_MALFORMED', 'header injection');
  assert.equal(await run({ authorization: ['DPoP not-a-jwt'] }), 'ERR_TOKEN_MALFORMED');
  assert.equal(await run({ dpop: [] }), 'ERR_DPOP_MISSING');
  assert.equal(await run({ dpop: [await proof(dpop, { htm: 'GET', htu: URL_ })] }), 'ERR_DPOP_ATH', 'proof without ath');
  assert.equal(await run({ dpop: [await proof(dpop, { htm: 'GET', htu: URL_, ath: ath(`${token}x`) })] }), 'ERR_DPOP_ATH');
  assert.equal(await run({ method: 'POST' }), 'ERR_DPOP_HTM');
  assert.equal(await run({}, { ...ctx(), audience: 'https://writ.example/r/other' }), 'ERR_TOKEN_AUDIENCE');
  assert.equal(await run({}, { ...ctx(), audience: null }), 'accepted');
  // A token bound to one key, a proof (with the right ath) by another: the binding check, never the revocation check.
  const thief = await testKey('ES256');
  assert.equal(await run({ dpop: [await proof(thief, { htm: 'GET', htu: URL_, ath: ath(token) })] }), 'ERR_DPOP_BINDING');

  // `before` is inclusive: a token issued at `before` is revoked, one issued a second later is not.
  const iat = claims.iat;
  const targets: Array<[string, (before: number) => Parameters<RevocationSet['apply']>[0]['target'], string]> = [
    ['agent (client_id)', (before) => ({ type: 'agent', agentId: 'child', before }), 'ERR_REVOKED_AGENT'],
    ['agent (in the act chain)', (before) => ({ type: 'agent', agentId: 'parent', before }), 'ERR_REVOKED_AGENT'],
    ['user', (before) => ({ type: 'user', userId: 'dev:alice', before }), 'ERR_REVOKED_USER'],
    ['key', (before) => ({ type: 'key', jkt: dpop.jkt, before }), 'ERR_REVOKED_KEY'],
    ['all', (before) => ({ type: 'all', before }), 'ERR_REVOKED_ALL'],
  ];
  for (const [name, target, expected] of targets) {
    for (const [before, want] of [
      [iat, expected],
      [iat + 1, expected],
      [iat - 1, 'accepted'],
    ] as const) {
      const set = new RevocationSet();
      set.apply({ seq: 1, target: target(before), expiresAt: NOW + 3600 });
      assert.equal(await run({}, ctx(set)), want, `${name} revoked before ${before - iat} (relative to iat)`);
    }
  }
  // Revocations of other subjects do not touch this token.
  const others = new RevocationSet();
  let seq = 0;
  for (const target of [
    { type: 'token', jti: 'tok_other' },
    { type: 'task', taskId: 'task_other' },
    { type: 'agent', agentId: 'someone', before: NOW },
    { type: 'user', userId: 'dev:bob', before: NOW },
    { type: 'key', jkt: (await testKey('ES256')).jkt, before: NOW },
  ] as const)
    others.apply({ seq: ++seq, target, expiresAt: NOW + 3600 });
  assert.equal(await run({}, ctx(others)), 'accepted');
});

for (const [name, prefix, alg] of [
  ['the Shared Signals SET key', SET_KID_PREFIX, 'RS256'],
  ['the audit checkpoint key', AUDIT_CHECKPOINT_KID_PREFIX, 'ES256'],
] as const) {
  test(`${name} in Writ's JWKS is never a token key, even when it signs a well-formed task token`, async () => {
    const { claims } = await setup();
    const key = await testKey(alg);
    const kid = `${prefix}abc`;
    const jwks = { keys: [{ ...(await exportJWK(key.publicKey)), kid, alg, use: 'sig' }] };
    const keys = tokenKeysFromJwks(jwks);
    assert.equal(keys.get(kid), undefined);
    const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg, typ: 'at+jwt', kid }).sign(key.privateKey);
    assert.equal(
      codeOf(() => verifyTaskToken(token, { issuer: ISS, audience: AUD, keys, now: () => NOW, clockSkewSeconds: 5 })),
      'ERR_TOKEN_KID_UNKNOWN',
    );
  });
}
