/**
 * The node:crypto JWS verifier against jose, on every vector and attack: for each input and key, both must agree
 * on accept/reject, and on the payload when they accept. This is what licenses the fast path (CONVENTIONS, jose).
 */
import assert from 'node:assert/strict';
import {
  createPublicKey,
  generateKeyPairSync,
  createHmac,
  sign as nodeSign,
  type KeyObject,
  type JsonWebKey as NodeJwk,
} from 'node:crypto';
import { test } from 'node:test';
import { compactVerify, importJWK, SignJWT, type CryptoKey } from 'jose';
import { parseCompactJws, verifyJwsSignature } from '../src/index.js';
import { b64, testKey, type TestKey } from './helpers.js';

async function joseAccepts(token: string, key: CryptoKey | KeyObject, alg: string): Promise<Record<string, unknown> | false> {
  try {
    const { payload } = await compactVerify(token, key, { algorithms: [alg] });
    const parsed: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : false;
  } catch {
    return false;
  }
}

function oursAccepts(token: string, key: KeyObject, alg: string): Record<string, unknown> | false {
  const jws = parseCompactJws(token);
  if (typeof jws === 'string') return false;
  if (jws.header['alg'] !== alg) return false;
  return verifyJwsSignature(jws, alg, key) ? jws.payload : false;
}

function mutations(token: string, other: string): string[] {
  const [h, p, s] = token.split('.') as [string, string, string];
  const flip = (str: string, i: number): string => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const c = str[i] as string;
    return str.slice(0, i) + (alphabet[(alphabet.indexOf(c) + 1) % 64] as string) + str.slice(i + 1);
  };
  const out = [
    token,
    `${h}.${p}.`,
    `${h}.${p}`,
    `${h}.${p}.${s}.`,
    `${h}.${p}.${s}.x.y`,
    `${h}.${p}.${s}=`,
    `${h}=.${p}.${s}`,
    `${h}.${p}.${s.slice(0, -2)}`,
    `${h}.${p}.${flip(s, s.length - 1)}`,
    `${h}.${flip(p, 3)}.${s}`,
    `${flip(h, 2)}.${p}.${s}`,
    `${h}.${other.split('.')[1] ?? ''}.${s}`,
    `${other.split('.')[0] ?? ''}.${p}.${s}`,
    `${h}.${p}.${other.split('.')[2] ?? ''}`,
    `.${p}.${s}`,
    `${h}..${s}`,
    `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`,
    token + ' ',
  ];
  for (let i = 0; i < 12; i++) out.push(`${h}.${p}.${flip(s, (i * 7) % s.length)}`);
  return out;
}

const ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

function canonical(token: string): boolean {
  return token.split('.').every((seg) => /^[A-Za-z0-9_-]*$/.test(seg) && Buffer.from(seg, 'base64url').toString('base64url') === seg);
}

test('agrees with jose on valid tokens and on hundreds of mutations, for every algorithm', async () => {
  const keys: TestKey[] = [];
  for (const alg of ALGS) keys.push(await testKey(alg));
  let cases = 0;
  for (const key of keys) {
    const kobj = createPublicKey({ key: key.publicJwk as NodeJwk, format: 'jwk' });
    const token = await new SignJWT({ sub: 'x', n: 1 }).setProtectedHeader({ alg: key.alg, typ: 'at+jwt' }).sign(key.privateKey);
    const other = await new SignJWT({ sub: 'y', n: 2 }).setProtectedHeader({ alg: key.alg, typ: 'at+jwt' }).sign(key.privateKey);
    for (const candidate of mutations(token, other)) {
      for (const verifyWith of keys) {
        const vk = createPublicKey({ key: verifyWith.publicJwk as NodeJwk, format: 'jwk' });
        const joseKey = await importJWK(verifyWith.publicJwk, verifyWith.alg);
        if (joseKey instanceof Uint8Array) throw new TypeError('unexpected symmetric key');
        const jose = await joseAccepts(candidate, joseKey, verifyWith.alg);
        const ours = oursAccepts(candidate, vk, verifyWith.alg);
        // The one intended difference: a segment spelled non-canonically (stray low bits in its last character)
        // decodes to the same bytes, and jose accepts it; Writ refuses it, so one signature has one spelling.
        const expected = jose !== false && !canonical(candidate) ? false : jose;
        assert.deepEqual(ours, expected, `disagreement: alg ${verifyWith.alg}, token ${candidate}`);
        cases++;
      }
      void kobj;
    }
  }
  assert.ok(cases > 400, `${cases} cases`);
});

test('algorithm confusion and unsupported constructs are refused by both', async () => {
  const es = await testKey('ES256');
  const kobj = createPublicKey({ key: es.publicJwk as NodeJwk, format: 'jwk' });
  const payload = b64({ sub: 'x' });
  const pem = kobj.export({ type: 'spki', format: 'pem' });
  const attacks: string[] = [];
  // alg none
  attacks.push(`${b64({ alg: 'none' })}.${payload}.`);
  // HS256 keyed with the public key, as PEM and as JWK JSON
  for (const secret of [pem, JSON.stringify(es.publicJwk)]) {
    const h = b64({ alg: 'HS256' });
    attacks.push(`${h}.${payload}.${createHmac('sha256', secret).update(`${h}.${payload}`).digest('base64url')}`);
  }
  // crit and b64:false
  const critToken = await new SignJWT({ sub: 'x' })
    .setProtectedHeader({ alg: 'ES256', crit: ['exp'] })
    .sign(es.privateKey)
    .catch(() => undefined);
  if (critToken !== undefined) attacks.push(critToken);
  const hB64 = b64({ alg: 'ES256', b64: false, crit: ['b64'] });
  attacks.push(
    `${hB64}.${payload}.${nodeSign('sha256', Buffer.from(`${hB64}.${payload}`), { key: await keyObjectOf(es), dsaEncoding: 'ieee-p1363' }).toString('base64url')}`,
  );
  // DER-encoded ECDSA signature instead of raw r||s
  const h = b64({ alg: 'ES256' });
  attacks.push(`${h}.${payload}.${nodeSign('sha256', Buffer.from(`${h}.${payload}`), await keyObjectOf(es)).toString('base64url')}`);
  // payload that is not a JSON object
  const hp = b64({ alg: 'ES256' });
  const arr = b64('[1,2]');
  attacks.push(
    `${hp}.${arr}.${nodeSign('sha256', Buffer.from(`${hp}.${arr}`), { key: await keyObjectOf(es), dsaEncoding: 'ieee-p1363' }).toString('base64url')}`,
  );
  // oversized
  attacks.push(`${h}.${b64({ pad: 'x'.repeat(20_000) })}.AAAA`);
  for (const a of attacks) {
    assert.equal(oursAccepts(a, kobj, 'ES256'), false, a.slice(0, 80));
    for (const alg of ['HS256', 'none']) assert.equal(oursAccepts(a, kobj, alg), false);
  }
});

test('keys that do not fit the algorithm are refused: P-384 for ES256, RSA-1024, Ed25519 for ES256', async () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const ed = generateKeyPairSync('ed25519');
  const h = b64({ alg: 'ES256' });
  const p = b64({ sub: 'x' });
  const sig384 = nodeSign('sha256', Buffer.from(`${h}.${p}`), { key: p384.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  assert.equal(oursAccepts(`${h}.${p}.${sig384}`, p384.publicKey, 'ES256'), false);
  const hr = b64({ alg: 'RS256' });
  const sigR = nodeSign('sha256', Buffer.from(`${hr}.${p}`), rsa1024.privateKey).toString('base64url');
  assert.equal(oursAccepts(`${hr}.${p}.${sigR}`, rsa1024.publicKey, 'RS256'), false);
  assert.equal(await joseAccepts(`${hr}.${p}.${sigR}`, rsa1024.publicKey, 'RS256'), false, 'jose refuses RSA keys under 2048 bits too');
  const he = b64({ alg: 'EdDSA' });
  const sigE = nodeSign(null, Buffer.from(`${he}.${p}`), ed.privateKey).toString('base64url');
  assert.notEqual(oursAccepts(`${he}.${p}.${sigE}`, ed.publicKey, 'EdDSA'), false);
  assert.equal(oursAccepts(`${he}.${p}.${sigE}`, ed.publicKey, 'ES256'), false);
});

async function keyObjectOf(k: TestKey): Promise<KeyObject> {
  const { createPrivateKey } = await import('node:crypto');
  const { exportJWK } = await import('jose');
  return createPrivateKey({ key: (await exportJWK(k.privateKey)) as NodeJwk, format: 'jwk' });
}
