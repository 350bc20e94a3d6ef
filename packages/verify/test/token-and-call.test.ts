/** Task-token verification (RFC 9068 §4), the verified-token cache, and the whole per-call check with revocation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, exportJWK } from 'jose';
import { WritError, type TaskTokenClaims } from '@writ/protocol';
import {
  checkCall,
  InMemoryReplayCache,
  RevocationSet,
  tokenKeysFromJwks,
  verifyTaskToken,
  VerifiedTokenCache,
  type CheckCallContext,
} from '../src/index.js';
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
    ['no cnf', sign({ ...noCnf }), 'ERR_TOKEN_CLAIMS'],
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
  const token = await sign({ ...claims });
  const base = { issuer: ISS, audience: AUD, clockSkewSeconds: 5, cache };
  verifyTaskToken(token, { ...base, keys: tokenKeysFromJwks(keysJwks), now: () => NOW });
  const noKeys = tokenKeysFromJwks({ keys: [] });
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: noKeys, now: () => NOW })),
    'accepted',
    'hit: no key needed',
  );
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: noKeys, now: () => NOW + 700 })),
    'ERR_TOKEN_EXPIRED',
  );
  assert.equal(
    codeOf(() => verifyTaskToken(token, { ...base, keys: noKeys, now: () => NOW, audience: 'https://writ.example/r/other' })),
    'ERR_TOKEN_AUDIENCE',
  );
  // Same signature segment, other claims: not a hit, and the signature fails.
  const [, , sig] = token.split('.');
  const other = await sign({ ...claims, jti: 'tok_2' });
  const spliced = `${other.split('.').slice(0, 2).join('.')}.${sig}`;
  assert.equal(
    codeOf(() => verifyTaskToken(spliced, { ...base, keys: tokenKeysFromJwks(keysJwks), now: () => NOW })),
    'ERR_TOKEN_SIGNATURE',
  );
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
