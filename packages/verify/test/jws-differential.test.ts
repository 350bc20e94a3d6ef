/**
 * The node:crypto JWS verifier against jose, on every vector and attack: for each input, key and allowed algorithm,
 * `parseCompactJws` + `verifyJwsSignature` must give jose's verdict (`jwtVerify`, which like us requires a JSON-object
 * payload), and the same payload when both accept. This is what licenses the fast path (CONVENTIONS, jose).
 *
 * Intended differences — each one Writ stricter than jose, each asserted where it arises:
 *   1. non-canonical base64url (stray low bits in a segment's last character): jose decodes it to the same bytes and
 *      accepts; Writ refuses, so one signature has exactly one spelling (the token cache and replay keys rely on it);
 *   2. inputs over 16 KiB (MAX_JWS_LENGTH): refused before any work;
 *   3. any `crit` or `b64` header: jose understands `crit: ["b64"]` with `b64: true`, and ignores a `b64` not listed
 *      in `crit`; Writ understands no extension and refuses both;
 *   4. a UTF-8 byte-order mark before the header or payload JSON: jose's TextDecoder strips it; Writ refuses.
 * RSA keys under 2048 bits, P-384 keys for ES256, keys of another type than the algorithm: refused by both.
 */
import assert from 'node:assert/strict';
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  constants,
  type JsonWebKey as NodeJwk,
  type KeyObject,
} from 'node:crypto';
import { test } from 'node:test';
import { exportJWK, jwtVerify, SignJWT } from 'jose';
import { MAX_JWS_LENGTH } from '../src/jws/verify-compact-jws.js';
import { parseCompactJws, verifyJwsSignature } from '../src/internal.js';
import { b64, testKey, type TestKey } from './helpers.js';

type Verdict = Record<string, unknown> | false;
type Difference = 'noncanonical' | 'oversized' | 'crit' | 'bom';

async function joseVerdict(token: string, key: KeyObject, alg: string): Promise<Verdict> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: [alg] });
    return payload;
  } catch {
    return false;
  }
}

function ourVerdict(token: string, key: KeyObject, alg: string): Verdict {
  const jws = parseCompactJws(token);
  if (typeof jws === 'string') return false;
  // The caller's allow-list: the header must name the one algorithm this key is for (as verifyTaskToken does).
  if (jws.header['alg'] !== alg) return false;
  return verifyJwsSignature(jws, alg, key) ? jws.payload : false;
}

function canonical(token: string): boolean {
  return token.split('.').every((seg) => /^[A-Za-z0-9_-]*$/.test(seg) && Buffer.from(seg, 'base64url').toString('base64url') === seg);
}

function hasBom(token: string): boolean {
  return token.split('.', 2).some((seg) =>
    Buffer.from(seg, 'base64url')
      .subarray(0, 3)
      .equals(Buffer.from([0xef, 0xbb, 0xbf])),
  );
}

function hasCritOrB64(token: string): boolean {
  try {
    const h = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    return typeof h === 'object' && h !== null && ('crit' in h || 'b64' in h);
  } catch {
    return false;
  }
}

/** Why, if at all, Writ may refuse a token jose accepts. */
function intendedDifference(token: string): Difference | undefined {
  if (token.length > MAX_JWS_LENGTH) return 'oversized';
  if (!canonical(token)) return 'noncanonical';
  if (hasCritOrB64(token)) return 'crit';
  if (hasBom(token)) return 'bom';
  return undefined;
}

const seen = new Map<string, number>();
let cases = 0;

async function agree(token: string, key: KeyObject, alg: string, label: string): Promise<Verdict> {
  const jose = await joseVerdict(token, key, alg);
  const ours = ourVerdict(token, key, alg);
  cases++;
  if (jose !== false && ours === false) {
    const why = intendedDifference(token);
    assert.ok(why !== undefined, `jose accepts, Writ refuses, no documented reason: ${label} (${alg}) ${token.slice(0, 120)}`);
    seen.set(why, (seen.get(why) ?? 0) + 1);
    return false;
  }
  assert.deepEqual(ours, jose, `disagreement: ${label} (${alg}) ${token.slice(0, 120)}`);
  return ours;
}

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function mutations(token: string, other: string): Array<[string, string]> {
  const [h, p, s] = token.split('.') as [string, string, string];
  const [oh, op, os] = other.split('.') as [string, string, string];
  const sig = Buffer.from(s, 'base64url');
  const lowBits = (seg: string): string => {
    // Flip the unused low bits of the last character: same bytes, other spelling (when the length leaves any).
    const last = seg[seg.length - 1] as string;
    return seg.slice(0, -1) + (B64URL[B64URL.indexOf(last) ^ 1] as string);
  };
  return [
    ['valid', token],
    ['empty signature', `${h}.${p}.`],
    ['two segments', `${h}.${p}`],
    ['one segment', h],
    ['trailing dot', `${h}.${p}.${s}.`],
    ['JWE-shaped, five parts', `${h}.${p}.${s}.${p}.${s}`],
    ['padding on signature', `${s.length % 4 === 0 ? token : `${token}${'='.repeat(4 - (s.length % 4))}`}`],
    ['padding on header', `${h}=.${p}.${s}`],
    ['standard base64 signature', `${h}.${p}.${sig.toString('base64')}`],
    ['truncated signature', `${h}.${p}.${s.slice(0, -4)}`],
    ['signature one byte short', `${h}.${p}.${sig.subarray(0, -1).toString('base64url')}`],
    ['signature one byte long', `${h}.${p}.${Buffer.concat([sig, Buffer.from([0])]).toString('base64url')}`],
    ['signature with a leading zero byte', `${h}.${p}.${Buffer.concat([Buffer.from([0]), sig]).toString('base64url')}`],
    ['non-canonical signature', `${h}.${p}.${lowBits(s)}`],
    ['non-canonical payload', `${h}.${lowBits(p)}.${s}`],
    ['non-canonical header', `${lowBits(h)}.${p}.${s}`],
    ['payload of another token', `${h}.${op}.${s}`],
    ['header of another token', `${oh}.${p}.${s}`],
    ['signature of another token', `${h}.${p}.${os}`],
    ['empty header', `.${p}.${s}`],
    ['empty payload', `${h}..${s}`],
    ['all empty', '..'],
    ['trailing space', `${token} `],
    ['leading space', ` ${token}`],
    ['newline inside', `${h}.${p}\n.${s}`],
    ['empty string', ''],
  ];
}

function randomMutations(token: string, rnd: () => number, n: number): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const chars = `${B64URL}.=+/ %`;
  for (let i = 0; i < n; i++) {
    const kind = i % 3;
    if (kind === 0) {
      // Replace one character of the compact form with a random one (any position, any segment).
      const at = Math.floor(rnd() * token.length);
      const ch = chars[Math.floor(rnd() * chars.length)] as string;
      out.push([`char ${at} → ${JSON.stringify(ch)}`, token.slice(0, at) + ch + token.slice(at + 1)]);
    } else {
      // Flip one bit of the decoded bytes of one segment and re-encode canonically: reaches the signature check.
      const parts = token.split('.') as [string, string, string];
      const which = kind === 1 ? 2 : Math.floor(rnd() * 3);
      const bytes = Buffer.from(parts[which] as string, 'base64url');
      const at = Math.floor(rnd() * bytes.length);
      bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(rnd() * 8));
      parts[which] = bytes.toString('base64url');
      out.push([`segment ${which} byte ${at} bit flip`, parts.join('.')]);
    }
  }
  return out;
}

interface Signer {
  alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256';
  key: TestKey;
  pub: KeyObject;
  priv: KeyObject;
}

async function signer(alg: Signer['alg']): Promise<Signer> {
  const key = await testKey(alg);
  return {
    alg,
    key,
    pub: createPublicKey({ key: key.publicJwk as NodeJwk, format: 'jwk' }),
    priv: createPrivateKey({ key: (await exportJWK(key.privateKey)) as NodeJwk, format: 'jwk' }),
  };
}

/** Signs any header and payload bytes the way `alg` would, with node:crypto (so headers jose would refuse to make). */
function rawSign(alg: string, priv: KeyObject, header: string, payload: string): string {
  const input = Buffer.from(`${header}.${payload}`);
  let sig: Buffer;
  switch (alg) {
    case 'ES256':
      sig = nodeSign('sha256', input, { key: priv, dsaEncoding: 'ieee-p1363' });
      break;
    case 'EdDSA':
      sig = nodeSign(null, input, priv);
      break;
    case 'RS256':
      sig = nodeSign('sha256', input, priv);
      break;
    case 'PS256':
      sig = nodeSign('sha256', input, { key: priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      break;
    default:
      throw new TypeError(alg);
  }
  return `${header}.${payload}.${sig.toString('base64url')}`;
}

const ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

test('agrees with jose on valid tokens, fixed mutations and random flips, for every algorithm and every key', async () => {
  const signers: Signer[] = [];
  for (const alg of ALGS) signers.push(await signer(alg));
  signers.push(await signer('ES256')); // a second key of the same algorithm: "signed by another key"
  const rnd = prng(0x5eed);
  const before = cases;
  for (const s of signers) {
    const token = await new SignJWT({ sub: 'x', n: 1 }).setProtectedHeader({ alg: s.alg, typ: 'at+jwt' }).sign(s.key.privateKey);
    const other = await new SignJWT({ sub: 'y', n: 2 }).setProtectedHeader({ alg: s.alg, typ: 'at+jwt' }).sign(s.key.privateKey);
    assert.deepEqual(await agree(token, s.pub, s.alg, 'valid'), { sub: 'x', n: 1 }, 'the valid token verifies');
    for (const [label, candidate] of mutations(token, other))
      for (const v of signers) {
        await agree(candidate, v.pub, v.alg, `${s.alg} token, ${label}, verified with a ${v.alg} key`);
        // Algorithm/key mismatch: this key under every other algorithm.
        for (const alg of ALGS) if (alg !== v.alg) await agree(candidate, v.pub, alg, `${label}, ${v.alg} key claimed as ${alg}`);
      }
    for (const [label, candidate] of randomMutations(token, rnd, 90)) {
      await agree(candidate, s.pub, s.alg, `${s.alg} ${label}`);
      const v = signers[(signers.indexOf(s) + 1) % signers.length] as Signer;
      await agree(candidate, v.pub, v.alg, `${s.alg} ${label}, other key`);
    }
  }
  assert.ok(cases - before > 2000, `${cases - before} cases`);
  assert.ok((seen.get('noncanonical') ?? 0) > 0, 'the non-canonical difference was exercised');
});

test('algorithm confusion and unsupported constructs: same verdict as jose', async () => {
  const signers: Signer[] = [];
  for (const alg of ALGS) signers.push(await signer(alg));
  const payload = b64({ sub: 'x' });
  for (const s of signers) {
    const pem = s.pub.export({ type: 'spki', format: 'pem' }) as string;
    const der = s.pub.export({ type: 'spki', format: 'der' });
    const attacks: Array<[string, string]> = [];
    attacks.push(['alg none, no signature', `${b64({ alg: 'none' })}.${payload}.`]);
    attacks.push(['alg none with a signature', `${rawSign(s.alg, s.priv, b64({ alg: 'none' }), payload)}`]);
    attacks.push(['alg NONE', `${b64({ alg: 'NONE' })}.${payload}.`]);
    for (const [name, secret] of [
      ['PEM', pem],
      ['JWK JSON', JSON.stringify(s.key.publicJwk)],
      ['DER', der],
    ] as const) {
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        const h = b64({ alg });
        const mac = createHmac(`sha${alg.slice(2)}`, secret)
          .update(`${h}.${payload}`)
          .digest('base64url');
        attacks.push([`${alg} keyed with the public key as ${name}`, `${h}.${payload}.${mac}`]);
      }
    }
    attacks.push(['alg not a string', rawSign(s.alg, s.priv, b64({ alg: [s.alg] }), payload)]);
    attacks.push(['no alg', rawSign(s.alg, s.priv, b64({ typ: 'JWT' }), payload)]);
    attacks.push(['alg in lower case', rawSign(s.alg, s.priv, b64({ alg: s.alg.toLowerCase() }), payload)]);
    attacks.push(['duplicate alg member, last wins', rawSign(s.alg, s.priv, b64(`{"alg":"none","alg":"${s.alg}"}`), payload)]);
    attacks.push(['crit with an unknown extension', rawSign(s.alg, s.priv, b64({ alg: s.alg, crit: ['x-writ'], 'x-writ': 1 }), payload)]);
    attacks.push(['crit empty', rawSign(s.alg, s.priv, b64({ alg: s.alg, crit: [] }), payload)]);
    attacks.push(['crit b64 true', rawSign(s.alg, s.priv, b64({ alg: s.alg, b64: true, crit: ['b64'] }), payload)]);
    attacks.push(['b64 false, listed in crit', rawSign(s.alg, s.priv, b64({ alg: s.alg, b64: false, crit: ['b64'] }), payload)]);
    attacks.push(['b64 false, unencoded payload', rawSign(s.alg, s.priv, b64({ alg: s.alg, b64: false, crit: ['b64'] }), '{"sub":"x"}')]);
    attacks.push(['b64 false, not listed in crit', rawSign(s.alg, s.priv, b64({ alg: s.alg, b64: false }), payload)]);
    for (const [name, body] of [
      ['array', '[1,2]'],
      ['string', '"x"'],
      ['number', '123'],
      ['null', 'null'],
      ['not JSON', '{sub:x}'],
      ['empty', ''],
      ['BOM then object', '\uFEFF{"sub":"x"}'],
      ['object with invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]).toString('latin1')],
    ] as const) {
      const enc = name === 'object with invalid UTF-8' ? Buffer.from(body, 'latin1').toString('base64url') : b64(body);
      attacks.push([`payload ${name}`, rawSign(s.alg, s.priv, b64({ alg: s.alg }), enc)]);
    }
    attacks.push(['header an array', rawSign(s.alg, s.priv, b64(`["${s.alg}"]`), payload)]);
    attacks.push(['header with a BOM', rawSign(s.alg, s.priv, b64(`\uFEFF{"alg":"${s.alg}"}`), payload)]);
    attacks.push(['huge valid token', rawSign(s.alg, s.priv, b64({ alg: s.alg }), b64({ pad: 'x'.repeat(20_000) }))]);
    attacks.push(['huge garbage', `${b64({ alg: s.alg })}.${'A'.repeat(1_000_000)}.AAAA`]);
    attacks.push(['header and payload swapped', rawSign(s.alg, s.priv, payload, b64({ alg: s.alg }))]);
    for (const [label, t] of attacks) {
      for (const v of signers) {
        for (const alg of [...ALGS, 'HS256', 'none']) await agree(t, v.pub, alg, `${s.alg}: ${label}, ${v.alg} key as ${alg}`);
      }
    }
    // None of the confusions may verify, whatever key or algorithm is offered.
    for (const [label, t] of attacks.filter(([l]) => /none|HS|alg not|no alg|lower case/.test(l)))
      for (const v of signers) for (const alg of [...ALGS, 'HS256', 'none']) assert.equal(ourVerdict(t, v.pub, alg), false, label);
  }
  for (const why of ['oversized', 'crit', 'bom'] as const) assert.ok((seen.get(why) ?? 0) > 0, `the ${why} difference was exercised`);
});

test('signature encodings: DER for ES256, high-S, zero r/s, PSS salt length, RS256 presented as PS256', async () => {
  const es = await signer('ES256');
  const rs = await signer('RS256');
  const h = b64({ alg: 'ES256' });
  const p = b64({ sub: 'x' });
  const input = Buffer.from(`${h}.${p}`);
  const raw = nodeSign('sha256', input, { key: es.priv, dsaEncoding: 'ieee-p1363' });
  const derSig = nodeSign('sha256', input, es.priv);
  const n = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
  const r = raw.subarray(0, 32);
  const s = BigInt(`0x${raw.subarray(32).toString('hex')}`);
  const highS = Buffer.concat([r, Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]);
  const cases: Array<[string, Buffer, Verdict | 'either']> = [
    ['raw r||s', raw, { sub: 'x' }],
    ['DER instead of raw', derSig, false],
    // ECDSA signatures are malleable: (r, n−s) verifies too, in jose as in node:crypto. Writ keys caches by the
    // whole token, never by the signature, so the second spelling buys nothing.
    ['high-S twin', highS, { sub: 'x' }],
    ['r = 0', Buffer.concat([Buffer.alloc(32), raw.subarray(32)]), false],
    ['s = 0', Buffer.concat([r, Buffer.alloc(32)]), false],
    ['all zero', Buffer.alloc(64), false],
    ['s = n', Buffer.concat([r, Buffer.from(n.toString(16), 'hex')]), false],
  ];
  for (const [label, sig, expected] of cases) {
    const verdict = await agree(`${h}.${p}.${sig.toString('base64url')}`, es.pub, 'ES256', label);
    assert.deepEqual(verdict, expected, label);
  }
  const hp = b64({ alg: 'PS256' });
  const inputP = Buffer.from(`${hp}.${p}`);
  for (const saltLength of [0, 20, 32, 64, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
    const sig = nodeSign('sha256', inputP, { key: rs.priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    const verdict = await agree(`${hp}.${p}.${sig.toString('base64url')}`, rs.pub, 'PS256', `PSS salt ${saltLength}`);
    assert.equal(verdict !== false, saltLength === 32, `PSS salt length ${saltLength}`);
  }
  const pkcs1 = nodeSign('sha256', inputP, rs.priv);
  assert.equal(await agree(`${hp}.${p}.${pkcs1.toString('base64url')}`, rs.pub, 'PS256', 'PKCS#1 v1.5 signature as PS256'), false);
  const hr = b64({ alg: 'RS256' });
  const pss = nodeSign('sha256', Buffer.from(`${hr}.${p}`), { key: rs.priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  assert.equal(await agree(`${hr}.${p}.${pss.toString('base64url')}`, rs.pub, 'RS256', 'PSS signature as RS256'), false);
});

test('keys that do not fit the algorithm: RSA-1024, P-384 claiming ES256, Ed25519 as ES256, Ed448 — same verdict as jose', async () => {
  const p = b64({ sub: 'x' });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  for (const alg of ['RS256', 'PS256']) {
    const t = rawSign(alg, rsa1024.privateKey, b64({ alg }), p);
    assert.equal(await agree(t, rsa1024.publicKey, alg, `RSA-1024 ${alg}`), false, `RSA-1024 ${alg} is refused (jose too)`);
  }
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const h = b64({ alg: 'ES256' });
  const sig384 = nodeSign('sha256', Buffer.from(`${h}.${p}`), { key: p384.privateKey, dsaEncoding: 'ieee-p1363' });
  assert.equal(await agree(`${h}.${p}.${sig384.toString('base64url')}`, p384.publicKey, 'ES256', 'P-384 as ES256'), false);
  // A P-384 signature is 96 bytes; a 64-byte truncation must not pass either.
  assert.equal(await agree(`${h}.${p}.${sig384.subarray(0, 64).toString('base64url')}`, p384.publicKey, 'ES256', 'P-384 truncated'), false);
  const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const sigK = nodeSign('sha256', Buffer.from(`${h}.${p}`), { key: secp256k1.privateKey, dsaEncoding: 'ieee-p1363' });
  assert.equal(await agree(`${h}.${p}.${sigK.toString('base64url')}`, secp256k1.publicKey, 'ES256', 'secp256k1 as ES256'), false);
  const ed = generateKeyPairSync('ed25519');
  const he = b64({ alg: 'EdDSA' });
  const sigE = nodeSign(null, Buffer.from(`${he}.${p}`), ed.privateKey).toString('base64url');
  assert.deepEqual(await agree(`${he}.${p}.${sigE}`, ed.publicKey, 'EdDSA', 'Ed25519'), { sub: 'x' });
  assert.equal(await agree(`${he}.${p}.${sigE}`, ed.publicKey, 'ES256', 'Ed25519 key, ES256 allowed'), false);
  const sigEasES = nodeSign(null, Buffer.from(`${h}.${p}`), ed.privateKey).toString('base64url');
  assert.equal(await agree(`${h}.${p}.${sigEasES}`, ed.publicKey, 'ES256', 'Ed25519 signature, header ES256'), false);
  // Ed448 is an EdDSA curve; Writ's EdDSA is Ed25519 only, and jose 6 refuses Ed448 under "EdDSA" too.
  const ed448 = generateKeyPairSync('ed448');
  const sig448 = nodeSign(null, Buffer.from(`${he}.${p}`), ed448.privateKey).toString('base64url');
  assert.equal(await agree(`${he}.${p}.${sig448}`, ed448.publicKey, 'EdDSA', 'Ed448 as EdDSA'), false);
  // An RSA key offered for ES256 / EdDSA, an EC key offered for RS256.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const hr = b64({ alg: 'RS256' });
  const sigR = rawSign('RS256', rsa.privateKey, hr, p);
  for (const alg of ['ES256', 'EdDSA', 'PS256']) assert.equal(await agree(sigR, rsa.publicKey, alg, `RSA key as ${alg}`), false);
  assert.equal(await agree(sigR, p384.publicKey, 'RS256', 'EC key as RS256'), false);
  assert.deepEqual(await agree(sigR, rsa.publicKey, 'RS256', 'RSA-2048 RS256'), { sub: 'x' });
});
