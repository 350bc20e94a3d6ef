/**
 * Bearer task tokens (MCP resources that let standard clients without DPoP in): the per-call check accepts one only
 * when asked to, only for a token issued without `cnf`, never a DPoP-bound token presented as Bearer (RFC 9449 §7.2
 * downgrade), never an unbound token presented with DPoP; revocation applies to bearer tokens exactly as to others.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, exportJWK } from 'jose';
import { WritError, type TaskTokenClaims } from '@writ/protocol';
import { checkCall, InMemoryReplayCache, RevocationSet, tokenKeysFromJwks, type CheckCallContext } from '../src/internal.js';
import { ath, NOW, proof, testKey } from './helpers.js';

const ISS = 'https://writ.example';
const AUD = 'https://writ.example/mcp/files';

test('bearer task tokens: accepted only where allowed, only unbound, and revocable', async () => {
  const signer = await testKey('ES256');
  const dpop = await testKey('ES256');
  const keys = tokenKeysFromJwks({ keys: [{ ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256' }] });
  const base: Omit<TaskTokenClaims, 'cnf'> = {
    iss: ISS,
    sub: 'dev:alice',
    aud: AUD,
    client_id: 'host',
    act: { sub: 'host' },
    authorization_details: [{ type: 'mcp', tools: ['read_file'] }],
    jti: 'tok_b',
    iat: NOW - 10,
    exp: NOW + 300,
    task_id: 'task_b',
    task_chain: [],
  };
  const sign = (c: object): Promise<string> =>
    new SignJWT({ ...c }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' }).sign(signer.privateKey);
  const unbound = await sign(base);
  const bound = await sign({ ...base, jti: 'tok_d', task_id: 'task_d', cnf: { jkt: dpop.jkt } });
  const revocations = new RevocationSet();
  const ctx = (acceptBearer: boolean): CheckCallContext => ({
    issuer: ISS,
    audience: AUD,
    keys,
    replay: new InMemoryReplayCache({ now: () => NOW }),
    revocations,
    maxAgeSeconds: 60,
    clockSkewSeconds: 5,
    now: () => NOW,
    acceptBearer,
  });
  const call = async (authorization: string, acceptBearer: boolean, withProofFor?: string): Promise<string> => {
    try {
      const dpopHeader = withProofFor === undefined ? [] : [await proof(dpop, { htm: 'POST', htu: AUD, ath: ath(withProofFor) })];
      const r = await checkCall({ method: 'POST', url: AUD, authorization: [authorization], dpop: dpopHeader }, ctx(acceptBearer));
      return r.jkt === null ? 'bearer' : 'dpop';
    } catch (err) {
      if (err instanceof WritError) return err.code;
      throw err;
    }
  };
  assert.equal(await call(`Bearer ${unbound}`, false), 'ERR_AUTH_SCHEME', 'bearer refused unless the resource allows it');
  assert.equal(await call(`Bearer ${unbound}`, true), 'bearer');
  assert.equal(await call(`bearer ${unbound}`, true), 'bearer', 'the scheme is case-insensitive (RFC 9110 §11.1)');
  assert.equal(await call(`Bearer ${bound}`, true), 'ERR_AUTH_SCHEME', 'a DPoP-bound token presented as Bearer is a downgrade');
  assert.equal(await call(`Bearer ${bound}`, true, bound), 'ERR_AUTH_SCHEME', 'even with a proof beside it');
  assert.equal(await call(`DPoP ${bound}`, true, bound), 'dpop');
  assert.equal(await call(`DPoP ${unbound}`, true, unbound), 'ERR_DPOP_BINDING', 'an unbound token never authenticates a DPoP call');
  assert.equal(await call(`DPoP ${unbound}`, false, unbound), 'ERR_DPOP_BINDING');
  revocations.apply({ seq: 1, target: { type: 'task', taskId: 'task_b' }, expiresAt: NOW + 3600 });
  assert.equal(await call(`Bearer ${unbound}`, true), 'ERR_REVOKED_TASK');
  revocations.apply({ seq: 2, target: { type: 'user', userId: 'dev:alice', before: NOW }, expiresAt: NOW + 3600 });
  assert.equal(await call(`DPoP ${bound}`, true, bound), 'ERR_REVOKED_USER');
});
