import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SecretValue } from '../../src/crypto/index.js';
import { canonicalJson, chainHash, GENESIS_HASH, normalizeAuditEvent } from '../../src/audit/index.js';

test('RFC 8785 §3.2.2 example: literals, numbers and string escapes', () => {
  const input = JSON.parse(
    '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
  ) as unknown;
  assert.equal(
    canonicalJson(input),
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
  );
});

test('RFC 8785 §3.2.3 example: members sorted by UTF-16 code units', () => {
  const input = JSON.parse(
    '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
  ) as Record<string, string>;
  const order = Object.keys(JSON.parse(canonicalJson(input)) as object);
  // Object.keys puts integer-like keys first, so compare the text instead.
  assert.deepEqual(order.length, 7);
  const text = canonicalJson(input);
  const positions = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) => text.indexOf(JSON.stringify(k) + ':'));
  assert.deepEqual(
    [...positions].sort((a, b) => a - b),
    positions,
  );
});

test('nested objects sorted, no whitespace, undefined members dropped, toJSON honoured', () => {
  assert.equal(
    canonicalJson({ b: { d: 1, c: [2, { z: 0, a: 'x' }] }, a: undefined, e: new Date(0) }),
    '{"b":{"c":[2,{"a":"x","z":0}],"d":1},"e":"1970-01-01T00:00:00.000Z"}',
  );
  assert.equal(canonicalJson({ key: new SecretValue('never') }), '{"key":"[redacted]"}');
  assert.equal(canonicalJson(-0), '0');
});

test('values JSON cannot hold are refused, not silently changed', () => {
  for (const bad of [NaN, Infinity, 1n, () => 1, Symbol('s'), [undefined]]) assert.throws(() => canonicalJson({ x: bad }), TypeError);
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  assert.throws(() => canonicalJson(cyclic), /cycle/);
  // Shared (non-cyclic) references are fine.
  const shared = { v: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"v":1},"b":{"v":1}}');
});

test('chain hash = sha256hex(prev_hash + "\\n" + body); genesis is 64 zeros', () => {
  assert.equal(GENESIS_HASH, '0'.repeat(64));
  // printf '%064d\n{}' 0 | sha256sum — computed outside Node.
  assert.equal(chainHash(GENESIS_HASH, '{}'), '5649d09ed68c17156095d175eef152856c5b1a81c117c409c1e00f096aa6838e');
});

test('normalizeAuditEvent fills id, time, trace id and refuses malformed events', () => {
  const { event, body } = normalizeAuditEvent({ type: 'admin.change', reason: 'agent.created', data: { b: 2, a: 1 } }, () => 1234);
  assert.match(event.id, /^[0-9a-f-]{36}$/);
  assert.equal(event.time, 1234);
  assert.match(event.trace_id, /^[0-9a-f]{32}$/);
  assert.equal(body, canonicalJson(event));
  assert.ok(body.indexOf('"data":{"a":1,"b":2}') > 0);
  const bad: unknown[] = [
    { type: '' },
    { type: 'x', trace_id: 'abc' },
    { type: 'x', trace_id: '0'.repeat(32) },
    { type: 'x', decision: 'maybe' },
    { type: 'x', actor_chain: 'u' },
    { type: 'x', data: [1] },
    { type: 'x', data: { n: NaN } },
    { type: 'x', time: -1 },
    { type: 'x', id: 'not-a-uuid' },
    { type: 'x', unknown_field: 1 },
    { type: 7 },
  ];
  for (const b of bad) assert.throws(() => normalizeAuditEvent(b as never, Date.now), TypeError, JSON.stringify(b));
});
