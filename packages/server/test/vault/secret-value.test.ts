import assert from 'node:assert/strict';
import { test } from 'node:test';
import { format, inspect } from 'node:util';
import { SecretValue } from '../../src/crypto/index.js';

const PLAIN = 'sk-live-0123456789abcdef';

test('SecretValue never prints its plaintext', () => {
  const s = new SecretValue(PLAIN);
  const renderings = [
    String(s),
    `${s}`,
    `x${s}x`,
    '' + (s as unknown as string),
    JSON.stringify({ s }),
    JSON.stringify([s]),
    inspect(s),
    inspect({ nested: { s } }, { depth: 10, showHidden: true }),
    format('%s %o %O %j', s, s, s, s),
    Object.keys(s).join(','),
    JSON.stringify(structuredClone({ v: s.toJSON() })),
  ];
  for (const r of renderings) assert.ok(!r.includes(PLAIN), `leaked in: ${r}`);
  assert.equal(String(s), '[redacted]');
  assert.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  assert.equal(s.reveal(), PLAIN);
});

test('SecretValue.equals compares in constant time, across lengths', () => {
  const a = new SecretValue(PLAIN);
  assert.equal(a.equals(new SecretValue(PLAIN)), true);
  assert.equal(a.equals(new SecretValue(`${PLAIN}x`)), false);
  assert.equal(a.equals(new SecretValue('')), false);
  assert.equal(new SecretValue('').equals(new SecretValue('')), true);
  assert.throws(() => a.equals(PLAIN as unknown as SecretValue), TypeError);
});

test('SecretValue is immutable and refuses non-strings', () => {
  const s = new SecretValue(PLAIN);
  assert.ok(Object.isFrozen(s));
  assert.throws(() => new SecretValue(42 as unknown as string), TypeError);
});
