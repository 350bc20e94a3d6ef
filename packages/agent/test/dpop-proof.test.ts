/** RFC 9449 §4.2 proofs and RFC 7638 thumbprints, checked with jose and with an independent SHA-256. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { base64url, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, EmbeddedJWK, exportJWK, jwtVerify } from 'jose';
import { createDpopProof, generateDpopKey } from '@writ/agent';

for (const alg of ['ES256', 'EdDSA'] as const) {
  test(`generateDpopKey(${alg}): non-extractable private key, public-only JWK, RFC 7638 thumbprint`, async () => {
    const key = await generateDpopKey(alg);
    assert.equal(key.alg, alg);
    assert.equal(key.privateKey.extractable, false);
    assert.equal(key.privateKey.type, 'private');
    await assert.rejects(exportJWK(key.privateKey), 'the private key cannot be exported');
    assert.deepEqual(Object.keys(key.publicJwk).sort(), alg === 'ES256' ? ['crv', 'kty', 'x', 'y'] : ['crv', 'kty', 'x']);
    assert.equal(key.publicJwk.crv, alg === 'ES256' ? 'P-256' : 'Ed25519');
    assert.equal(key.jkt, await calculateJwkThumbprint(key.publicJwk, 'sha256'));
    assert.notEqual((await generateDpopKey(alg)).jkt, key.jkt);
  });

  test(`createDpopProof(${alg}) is an RFC 9449 §4.2 proof`, async () => {
    const key = await generateDpopKey(alg);
    const accessToken = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln';
    const before = Math.floor(Date.now() / 1000);
    const proof = await createDpopProof(key, {
      htm: 'POST',
      htu: 'https://writ.example:8443/r/api/v1/x?limit=5&q=a#frag',
      accessToken,
      nonce: 'server-nonce-1',
    });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [alg] });
    assert.deepEqual(Object.keys(protectedHeader).sort(), ['alg', 'jwk', 'typ']);
    assert.equal(protectedHeader.typ, 'dpop+jwt');
    assert.equal(protectedHeader.alg, alg);
    assert.deepEqual(protectedHeader.jwk, key.publicJwk, 'the header carries the public key and nothing else');
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk ?? {}), key.jkt);
    assert.deepEqual(Object.keys(payload).sort(), ['ath', 'htm', 'htu', 'iat', 'jti', 'nonce']);
    assert.equal(payload['htm'], 'POST');
    assert.equal(payload['htu'], 'https://writ.example:8443/r/api/v1/x', 'no query, no fragment');
    assert.equal(payload['ath'], createHash('sha256').update(accessToken, 'ascii').digest('base64url'));
    assert.equal(payload['nonce'], 'server-nonce-1');
    assert.ok(typeof payload.iat === 'number' && payload.iat >= before && payload.iat <= Math.floor(Date.now() / 1000));
    assert.ok(typeof payload.jti === 'string' && base64url.decode(payload.jti).length * 8 >= 96, 'jti has at least 96 random bits');
  });
}

test('a proof without a token or nonce has exactly jti, htm, htu, iat', async () => {
  const key = await generateDpopKey();
  const payload = decodeJwt(await createDpopProof(key, { htm: 'GET', htu: new URL('http://127.0.0.1:7420/oauth2/token') }));
  assert.deepEqual(Object.keys(payload).sort(), ['htm', 'htu', 'iat', 'jti']);
  assert.equal(payload['htu'], 'http://127.0.0.1:7420/oauth2/token');
});

test('every proof has a fresh jti', async () => {
  const key = await generateDpopKey();
  const jtis = new Set<unknown>();
  for (let i = 0; i < 50; i++) jtis.add(decodeJwt(await createDpopProof(key, { htm: 'GET', htu: 'https://a.example/' })).jti);
  assert.equal(jtis.size, 50);
});

test('htm is normalised exactly as fetch normalises methods, so it matches the wire', async () => {
  const key = await generateDpopKey();
  const htm = async (m: string): Promise<unknown> => decodeJwt(await createDpopProof(key, { htm: m, htu: 'https://a.example/' })).htm;
  assert.equal(await htm('get'), 'GET');
  assert.equal(await htm('Delete'), 'DELETE');
  assert.equal(await htm('PATCH'), 'PATCH');
  // fetch sends `patch` as written (it only upper-cases DELETE, GET, HEAD, OPTIONS, POST, PUT), so the proof does too.
  assert.equal(await htm('patch'), 'patch');
});

test('proofs refuse a non-HTTP htu and keys refuse other algorithms', async () => {
  const key = await generateDpopKey();
  await assert.rejects(createDpopProof(key, { htm: 'GET', htu: 'file:///etc/passwd' }), TypeError);
  await assert.rejects(createDpopProof(key, { htm: 'GET', htu: '/relative' }), TypeError);
  await assert.rejects(generateDpopKey('RS256' as never), TypeError);
  assert.equal(decodeProtectedHeader(await createDpopProof(key, { htm: 'GET', htu: 'https://a.example/' })).typ, 'dpop+jwt');
});
