/**
 * Spec traceability: each requirement this package implements, where it comes from, and the tests that verify it.
 * The test fails when a requirement names a test that does not exist (renamed or deleted), so the map cannot go stale
 * silently. Tests are found by their titles in the compiled test files next to this one.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

interface Requirement {
  id: string;
  ref: string;
  behaviour: string;
  tests: string[];
}

const EACH = 'each failed check has its own code';
const MORE = 'more refusals: malformed proofs, types, keys, claims, URIs';
const CONFUSION = 'algorithm confusion and unsupported constructs: same verdict as jose';
const TOKEN_CODES = 'task token checks, each with its code';

export const REQUIREMENTS: Requirement[] = [
  {
    id: 'rfc7638:3:thumbprint',
    ref: 'RFC 7638 §3',
    behaviour: 'SHA-256 JWK thumbprint over the required members',
    tests: [
      'RFC 7638 §3.1: the RSA key thumbprint',
      'RFC 8037 §A.3: the Ed25519 (OKP) key thumbprint',
      'jwkThumbprint agrees with jose.calculateJwkThumbprint for EC, OKP and RSA keys, whatever the member order and extras',
    ],
  },
  {
    id: 'rfc7515:jws:differential',
    ref: 'RFC 7515 §5.2',
    behaviour: 'the node:crypto verifier gives jose’s verdict on every vector and attack',
    tests: [
      'agrees with jose on valid tokens, fixed mutations and random flips, for every algorithm and every key',
      CONFUSION,
      'signature encodings: DER for ES256, high-S, zero r/s, PSS salt length, RS256 presented as PS256',
      'keys that do not fit the algorithm: RSA-1024, P-384 claiming ES256, Ed25519 as ES256, Ed448 — same verdict as jose',
    ],
  },
  { id: 'rfc7515:4.1.11:crit', ref: 'RFC 7515 §4.1.11, RFC 7797', behaviour: 'crit and b64 headers are refused', tests: [CONFUSION, MORE] },
  { id: 'rfc9449:4.3:1-one-header', ref: 'RFC 9449 §4.3 item 1', behaviour: 'exactly one DPoP header', tests: [EACH] },
  { id: 'rfc9449:4.3:2-well-formed', ref: 'RFC 9449 §4.3 item 2', behaviour: 'a single well-formed JWS', tests: [MORE] },
  {
    id: 'rfc9449:4.3:3-claims',
    ref: 'RFC 9449 §4.3 item 3',
    behaviour: 'jti (bounded), htm, htu, iat present and typed',
    tests: [EACH, MORE],
  },
  { id: 'rfc9449:4.3:4-typ', ref: 'RFC 9449 §4.3 item 4', behaviour: 'typ is dpop+jwt', tests: [EACH, MORE] },
  {
    id: 'rfc9449:4.3:5-alg',
    ref: 'RFC 9449 §4.3 item 5',
    behaviour: 'asymmetric, allowed alg; none and MACs refused',
    tests: [EACH, CONFUSION, 'algorithms that are not asymmetric JWS algorithms Writ supports are a programming error'],
  },
  { id: 'rfc9449:4.3:6-signature', ref: 'RFC 9449 §4.3 item 6', behaviour: 'signature verifies with the header jwk', tests: [EACH, MORE] },
  {
    id: 'rfc9449:4.3:7-public-jwk',
    ref: 'RFC 9449 §4.3 item 7',
    behaviour: 'jwk public, fits the alg, canonical',
    tests: [
      EACH,
      MORE,
      'one key, one jkt: non-minimal JWK member encodings are refused (jose accepts them, under other thumbprints)',
      'RSA keys that would make verification expensive are refused: modulus over 4096 bits, exponent of 2^32 or more',
    ],
  },
  { id: 'rfc9449:4.3:8-htm', ref: 'RFC 9449 §4.3 item 8', behaviour: 'htm equals the method', tests: [EACH, MORE] },
  {
    id: 'rfc9449:4.3:9-htu',
    ref: 'RFC 9449 §4.3 item 9',
    behaviour: 'htu equals the URI after RFC 3986 §6.2.2/§6.2.3, without query and fragment',
    tests: [
      'htu matches after RFC 3986 §6.2.2/§6.2.3 normalisation, in both directions',
      'the exact-htu fast path is taken only for URLs normalisation leaves unchanged',
      'htu with userinfo is refused, in either the proof or the request URL',
    ],
  },
  {
    id: 'rfc9449:4.3:10-nonce',
    ref: 'RFC 9449 §4.3 item 10, §9',
    behaviour: 'nonce checked when required',
    tests: [MORE, 'DPoP nonces: the current and the previous window are accepted, in exactly the spelling issued'],
  },
  {
    id: 'rfc9449:4.3:11-iat',
    ref: 'RFC 9449 §4.3 item 11',
    behaviour: 'iat within the window and the skew',
    tests: ['iat window edges: maxAge + skew in the past, skew in the future, inclusive'],
  },
  {
    id: 'rfc9449:4.3:12-ath',
    ref: 'RFC 9449 §4.3 item 12, §4.2',
    behaviour: 'ath is the hash of the presented token',
    tests: [
      'RFC 9449 §7.1: ath of the example access token, and the Figure 13 resource proof that carries it',
      'ath: the access token is hashed losslessly, so two different tokens never share an ath',
    ],
  },
  {
    id: 'rfc9449:4.3:12-binding',
    ref: 'RFC 9449 §4.3 item 12, §6.1',
    behaviour: 'proof key thumbprint equals cnf.jkt',
    tests: ['checkCall: the remaining refusals, and revocations that spare tokens issued after them'],
  },
  {
    id: 'rfc9449:11.1:replay',
    ref: 'RFC 9449 §11.1',
    behaviour: 'jti single use per URI, hashed key, bounded store that fails closed',
    tests: [
      'replay: one proof is one use of the URI, however the URI is spelled',
      'the replay key is a fixed-size hash of jti and canonical URI',
      'a full replay cache refuses in O(1) until its earliest entry can expire, then reclaims',
      'replay cache bound: refuses when full of live entries, reclaims expired ones, re-admits an expired key',
    ],
  },
  {
    id: 'rfc9449:7.2:downgrade',
    ref: 'RFC 9449 §7.1, §7.2',
    behaviour: 'one Authorization header, DPoP scheme; Bearer refused',
    tests: ['checkCall: authorization header rules, binding and every revocation target'],
  },
  {
    id: 'rfc9068:4:typ-alg-kid',
    ref: 'RFC 9068 §2.1, §4',
    behaviour: 'typ at+jwt, allowed alg, known kid, signature',
    tests: [TOKEN_CODES, 'task token: algorithm, type and key refusals'],
  },
  {
    id: 'rfc9068:4:iss-aud-time',
    ref: 'RFC 9068 §4',
    behaviour: 'iss exact, aud contains the resource, exp/nbf/iat with skew',
    tests: ['task token: time, issuer and audience edges'],
  },
  {
    id: 'rfc9068:2.2:claims',
    ref: 'RFC 9068 §2.2, RFC 8693 §4.1, RFC 9396 §9.1',
    behaviour: 'every claim Writ relies on, typed',
    tests: [
      'task token: every claim Writ relies on, missing or of the wrong type',
      'task token: authorization_details, cnf.jkt, aud, act and scope must have their JSON types',
    ],
  },
  {
    id: 'writ:token-cache',
    ref: 'Writ (hot-path cost)',
    behaviour: 'hits skip the signature, never time/iss/aud/key checks',
    tests: [
      'the verified-token cache skips the signature on a hit but still enforces time, issuer and audience',
      'the verified-token cache: a hit counts only while the kid still names the key that verified it',
      'the verified-token cache: only the identical token hits, expiry still applies, bounded LRU',
    ],
  },
  {
    id: 'rfc3986:path:canonical',
    ref: 'RFC 3986 §6.2.2',
    behaviour: 'request paths canonical or refused',
    tests: [
      'canonical request paths',
      'ambiguous paths are refused with ERR_PATH_INVALID',
      'canonical request paths: more spellings, and the length limit',
      'paths: path-parameter traversal, double encoding and invalid UTF-8 escapes are refused',
    ],
  },
  {
    id: 'rfc9396:match',
    ref: 'RFC 9396 §2',
    behaviour: 'http details: actions, paths, locations; others never match',
    tests: [
      'matching: * is one non-empty segment, ** zero or more, literals exact, methods and locations respected',
      'matchAuthorizationDetails: methods, locations, types, invalid details',
      'matching never reads a loosely typed detail as a grant',
    ],
  },
  {
    id: 'writ:attenuation',
    ref: 'RFC 8693 §1.5 (not defined there; Writ)',
    behaviour: 'isSubsetOf by pattern containment',
    tests: ['isSubsetOf decides attenuation structurally', 'isSubsetOf: a table of contained and not contained pairs'],
  },
  {
    id: 'writ:revocation',
    ref: 'docs/verifier.md (revocation)',
    behaviour: 'token, task chain, agent chain, user, key, all; before inclusive; prune',
    tests: [
      'each target hits the token it names, with its own code',
      '`before` is inclusive: iat == before is revoked, iat == before + 1 is not',
      'repeated entries merge: the later `before` and the later expiry win, whatever the order',
      'prune drops exactly the expired entries, and the rest keep working',
      'revocation of everything: entries merge to the later cut-off and the later expiry, in any order',
    ],
  },
];

test('every requirement is verified by tests that exist', () => {
  const dir = dirname(fileURLToPath(import.meta.url));
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => readFileSync(`${dir}/${f}`, 'utf8'))
    .join('\n');
  const ids = new Set<string>();
  for (const r of REQUIREMENTS) {
    assert.ok(!ids.has(r.id), `duplicate requirement ${r.id}`);
    ids.add(r.id);
    assert.ok(r.tests.length > 0, `${r.id} has no test`);
    for (const title of r.tests)
      assert.ok(
        sources.includes(`test(${JSON.stringify(title)}`) ||
          sources.includes(`test('${title.replace(/'/g, "\\'")}'`) ||
          sources.includes(`test(\`${title}\``),
        `${r.id}: no test titled "${title}"`,
      );
  }
});
