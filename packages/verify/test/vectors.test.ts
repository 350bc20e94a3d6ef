/** Standards test vectors: RFC 7638 §3.1, RFC 8037 §A.3 and RFC 9449 §4.1, §6.1 and §7.1; thumbprints against jose. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { WritError } from '@writ/protocol';
import { jwkThumbprint, verifyDpopProof, InMemoryReplayCache, parseCompactJws, type DpopCheckOptions } from '../src/internal.js';

test('RFC 7638 §3.1: the RSA key thumbprint', () => {
  const jwk = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };
  assert.equal(jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  // Only the required members count, in their order, whatever the object's own order and extra members.
  const { n, e } = jwk;
  assert.equal(jwkThumbprint({ n, e, kty: 'RSA', use: 'sig' }), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  assert.notEqual(jwkThumbprint({ kty: 'RSA', n, e: 'AQAA' }), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  assert.throws(() => jwkThumbprint({ kty: 'RSA', n }), TypeError);
  assert.throws(() => jwkThumbprint({ kty: 'oct', k: 'AAAA' }), TypeError);
});

// RFC 9449 §4.1, the proof of the token request (Figure 4), and §6.1's jkt of its key.
const RFC9449_PROOF =
  'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg';
const RFC9449_JKT = '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I';
// RFC 9449 §7.1, the access token of Figure 12 and the resource request proof of Figure 13 (same key).
const RFC9449_ACCESS_TOKEN = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
const RFC9449_RESOURCE_PROOF =
  'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA';

function tokenRequest(over: Partial<DpopCheckOptions> = {}): DpopCheckOptions {
  return {
    method: 'POST',
    url: 'https://server.example.com/token',
    replay: new InMemoryReplayCache({ now: () => 1562262616 }),
    algorithms: ['ES256'],
    maxAgeSeconds: 60,
    clockSkewSeconds: 5,
    now: () => 1562262616,
    ...over,
  };
}

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'accepted',
    (e: unknown) => {
      if (e instanceof WritError) return e.code;
      throw e;
    },
  );
}

test('RFC 9449 §6.1: the thumbprint of the §4.1 proof header jwk is the §6.1 jkt', () => {
  const jws = parseCompactJws(RFC9449_PROOF);
  assert.ok(typeof jws !== 'string');
  assert.deepEqual(jws.header['jwk'], {
    kty: 'EC',
    x: 'l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs',
    y: '9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA',
    crv: 'P-256',
  });
  assert.equal(jwkThumbprint(jws.header['jwk'] as { kty: string }), RFC9449_JKT);
});

test("RFC 9449 §4.1: the specification's token-request proof verifies with its own jwk", async () => {
  const r = await verifyDpopProof([RFC9449_PROOF], tokenRequest());
  assert.equal(r.jkt, RFC9449_JKT);
  assert.deepEqual(r.claims, { jti: '-BwC3ESc6acc2lTc', htm: 'POST', htu: 'https://server.example.com/token', iat: 1562262616 });
  // The same vector fails each check it is not made for: the test can fail.
  assert.equal(await code(verifyDpopProof([RFC9449_PROOF], tokenRequest({ method: 'GET' }))), 'ERR_DPOP_HTM');
  assert.equal(await code(verifyDpopProof([RFC9449_PROOF], tokenRequest({ url: 'https://server.example.com/authorize' }))), 'ERR_DPOP_HTU');
  assert.equal(await code(verifyDpopProof([RFC9449_PROOF], tokenRequest({ now: () => 1562262616 + 3600 }))), 'ERR_DPOP_IAT');
  assert.equal(await code(verifyDpopProof([RFC9449_PROOF], tokenRequest({ algorithms: ['EdDSA'] }))), 'ERR_DPOP_ALG');
  const [h, p, s] = RFC9449_PROOF.split('.') as [string, string, string];
  const sig = Buffer.from(s, 'base64url');
  sig[10] = (sig[10] as number) ^ 1;
  assert.equal(await code(verifyDpopProof([`${h}.${p}.${sig.toString('base64url')}`], tokenRequest())), 'ERR_DPOP_SIGNATURE');
  const replay = new InMemoryReplayCache({ now: () => 1562262616 });
  assert.equal(await code(verifyDpopProof([RFC9449_PROOF], tokenRequest({ replay }))), 'accepted');
  assert.equal(await code(verifyDpopProof([RFC9449_PROOF], tokenRequest({ replay }))), 'ERR_DPOP_REPLAY');
});

test('RFC 9449 §7.1: ath of the example access token, and the Figure 13 resource proof that carries it', async () => {
  assert.equal(
    createHash('sha256').update(RFC9449_ACCESS_TOKEN, 'ascii').digest('base64url'),
    'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo',
  );
  const resource = {
    method: 'GET',
    url: 'https://resource.example.org/protectedresource',
    accessToken: RFC9449_ACCESS_TOKEN,
    now: () => 1562262618,
  };
  const r = await verifyDpopProof([RFC9449_RESOURCE_PROOF], tokenRequest(resource));
  assert.equal(r.jkt, RFC9449_JKT);
  assert.equal(r.claims.ath, 'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo');
  assert.equal(
    await code(verifyDpopProof([RFC9449_RESOURCE_PROOF], tokenRequest({ ...resource, accessToken: `${RFC9449_ACCESS_TOKEN}x` }))),
    'ERR_DPOP_ATH',
  );
  // The token-request proof has no ath: refused when presented with an access token.
  assert.equal(await code(verifyDpopProof([RFC9449_PROOF], tokenRequest({ accessToken: RFC9449_ACCESS_TOKEN }))), 'ERR_DPOP_ATH');
});

test('RFC 8037 §A.3: the Ed25519 (OKP) key thumbprint', () => {
  assert.equal(
    jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }),
    'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k',
  );
});

test('jwkThumbprint agrees with jose.calculateJwkThumbprint for EC, OKP and RSA keys, whatever the member order and extras', async () => {
  const keys: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 8; i++) {
    keys.push(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }));
    keys.push(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }));
  }
  keys.push(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }));
  for (const bits of [2048, 3072]) keys.push(generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }));
  let n = 0;
  for (const jwk of keys) {
    const variants = [
      jwk,
      Object.fromEntries(Object.entries(jwk).reverse()),
      { ...jwk, kid: 'k', alg: 'x', use: 'sig', key_ops: ['verify'], ext: true },
    ];
    for (const v of variants) {
      assert.equal(jwkThumbprint(v as { kty: string }), await calculateJwkThumbprint(v as JWK), JSON.stringify(v).slice(0, 80));
      n++;
    }
  }
  assert.ok(n >= 50);
  // Both refuse a key without its required members.
  await assert.rejects(calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'AAAA' }));
  assert.throws(() => jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'AAAA' }), TypeError);
});
