/** RFC 7523 §3 private_key_jwt assertions, verified with jose against the public key. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { decodeJwt, generateKeyPair, jwtVerify } from 'jose';
import { createClientAssertion } from '@writ/agent';

const audience = 'https://writ.example/oauth2/token';

test('iss = sub = client id, aud = token endpoint, unique jti, iat, exp at most 60 s ahead', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const before = Math.floor(Date.now() / 1000);
  const a = await createClientAssertion({ clientId: 'agent-a', audience, key: privateKey, kid: 'k1' });
  const { payload, protectedHeader } = await jwtVerify(a, publicKey, {
    issuer: 'agent-a',
    subject: 'agent-a',
    audience,
    algorithms: ['ES256'],
    typ: 'JWT',
  });
  assert.deepEqual(protectedHeader, { alg: 'ES256', typ: 'JWT', kid: 'k1' });
  assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
  assert.equal(payload.aud, audience, 'a single audience string');
  assert.ok(typeof payload.iat === 'number' && payload.iat >= before);
  assert.ok(typeof payload.exp === 'number' && payload.exp > payload.iat && payload.exp - payload.iat <= 60);
  const b = decodeJwt(await createClientAssertion({ clientId: 'agent-a', audience, key: privateKey }));
  assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16);
  assert.notEqual(b.jti, payload.jti);
  assert.equal(b.exp, (b.iat as number) + 60);
});

test('the algorithm follows the key: EdDSA and RS256 node KeyObjects, Ed25519 CryptoKeys', async () => {
  const ed = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const webEd = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const cases = [
    [ed.privateKey, ed.publicKey, 'EdDSA'],
    [rsa.privateKey, rsa.publicKey, 'RS256'],
    [webEd.privateKey, webEd.publicKey, 'EdDSA'],
  ] as const;
  for (const [priv, pub, alg] of cases) {
    const a = await createClientAssertion({ clientId: 'agent-b', audience, key: priv });
    const { protectedHeader } = await jwtVerify(a, pub, { issuer: 'agent-b', subject: 'agent-b', audience, algorithms: [alg] });
    assert.equal(protectedHeader.alg, alg);
  }
  // An RSA CryptoKey generated for PS256 says so itself; an explicit alg overrides the inference.
  const ps = await generateKeyPair('PS256');
  const a = await createClientAssertion({ clientId: 'agent-b', audience, key: ps.privateKey });
  assert.equal((await jwtVerify(a, ps.publicKey, { algorithms: ['PS256'] })).protectedHeader.alg, 'PS256');
  const explicit = await createClientAssertion({ clientId: 'agent-b', audience, key: rsa.privateKey, alg: 'PS256' });
  assert.equal((await jwtVerify(explicit, rsa.publicKey, { algorithms: ['PS256'] })).protectedHeader.alg, 'PS256');
});

test('lifetimes beyond 60 s are refused', async () => {
  const { privateKey } = await generateKeyPair('ES256');
  await assert.rejects(createClientAssertion({ clientId: 'c', audience, key: privateKey, lifetimeSeconds: 61 }), RangeError);
  await assert.rejects(createClientAssertion({ clientId: 'c', audience, key: privateKey, lifetimeSeconds: 0 }), RangeError);
  const p = decodeJwt(await createClientAssertion({ clientId: 'c', audience, key: privateKey, lifetimeSeconds: 30 }));
  assert.equal((p.exp as number) - (p.iat as number), 30);
});
