/** RFC 9110 §11.6.1 challenge parsing, as used for RFC 9449 §7.1/§9 DPoP challenges. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWwwAuthenticate } from '@writ/agent';

test('reads a DPoP challenge with quoted and token values', () => {
  assert.deepEqual(parseWwwAuthenticate('DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"'), [
    { scheme: 'DPoP', params: { error: 'use_dpop_nonce', error_description: 'Resource server requires nonce in DPoP proof' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('DPoP Error = use_dpop_nonce ,algs="ES256 EdDSA"'), [
    { scheme: 'DPoP', params: { error: 'use_dpop_nonce', algs: 'ES256 EdDSA' } },
  ]);
});

test('several challenges, commas and escapes inside quoted strings', () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Bearer realm="a, b", error="invalid_token", DPoP algs="ES256", error="use_dpop_nonce", error_description="say \\"nonce\\""',
    ),
    [
      { scheme: 'Bearer', params: { realm: 'a, b', error: 'invalid_token' } },
      { scheme: 'DPoP', params: { algs: 'ES256', error: 'use_dpop_nonce', error_description: 'say "nonce"' } },
    ],
  );
  assert.deepEqual(
    parseWwwAuthenticate('Basic, DPoP algs=ES256, , Negotiate YWJj==, Bearer').map((c) => [c.scheme, c.token68, c.params]),
    [
      ['Basic', undefined, {}],
      ['DPoP', undefined, { algs: 'ES256' }],
      ['Negotiate', 'YWJj==', {}],
      ['Bearer', undefined, {}],
    ],
  );
});

test('absent or malformed headers yield only the challenges read before the fault', () => {
  assert.deepEqual(parseWwwAuthenticate(null), []);
  assert.deepEqual(parseWwwAuthenticate(undefined), []);
  assert.deepEqual(parseWwwAuthenticate(''), []);
  assert.deepEqual(parseWwwAuthenticate('DPoP error="unterminated'), []);
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="x", DPoP error=@'), [{ scheme: 'Bearer', params: { realm: 'x' } }]);
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="x" junk'), []);
  // The grammar reads a lone `name=` as a token68, not as a parameter with no value.
  assert.deepEqual(parseWwwAuthenticate('DPoP error='), [{ scheme: 'DPoP', params: {}, token68: 'error=' }]);
  assert.deepEqual(parseWwwAuthenticate('"DPoP"'), []);
});

test('a repeated parameter keeps its first value; __proto__ is just a name', () => {
  const [c] = parseWwwAuthenticate('DPoP error="use_dpop_nonce", error="invalid_token", __proto__="x"');
  assert.equal(c?.params['error'], 'use_dpop_nonce');
  assert.equal(Object.getPrototypeOf(c?.params), Object.prototype);
  assert.equal(Object.hasOwn(c?.params ?? {}, '__proto__'), true);
});
