/**
 * The scrubber on its own: every form an upstream may echo an injected value in is found, wherever a stream's chunk
 * boundaries fall, and replaced without changing the length; text that merely resembles it is left alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SecretValue } from '../../src/crypto/index.js';
import { MIN_FORM_BYTES, SecretScrubber, formsOf } from '../../src/vault/index.js';

const VALUE = 'sk/live"Ωsecret+value=1234567890';
const scrubber = SecretScrubber.of([{ secretId: 'api-key', value: new SecretValue(VALUE) }]);

/** The ways an upstream writes the value back, each inside some surrounding text. */
function echoes(value: string): Record<string, string> {
  const b64 = (prefix: string, alphabet: 'base64' | 'base64url'): string => Buffer.from(`${prefix}${value}!?`, 'utf8').toString(alphabet);
  return {
    raw: `{"note":"x"} ${value} end`,
    json: JSON.stringify({ authorization: `Bearer ${value}` }),
    jsonSlashes: JSON.stringify({ v: value }).replaceAll('/', '\\/'),
    jsonAscii: JSON.stringify({ v: value }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    percent: `https://example.test/cb?token=${encodeURIComponent(value)}&x=1`,
    basicHeader: `Basic ${Buffer.from(`ci-bot:${value}`).toString('base64')}`,
    base64Offset0: b64('', 'base64'),
    base64Offset1: b64('a', 'base64'),
    base64Offset2: b64('ab', 'base64'),
    base64Offset3: b64('abc', 'base64'),
    base64Url1: b64('a', 'base64url'),
    base64Url2: b64('ab', 'base64url'),
  };
}

function decodesToValue(text: string): boolean {
  if (text.includes(VALUE) || text.includes(encodeURIComponent(VALUE))) return true;
  // Any base64 run in the text that decodes to something containing the value (either alphabet, any offset).
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    for (const alphabet of ['base64', 'base64url'] as const) {
      if (Buffer.from(run, alphabet).toString('utf8').includes(VALUE)) return true;
    }
  }
  try {
    return JSON.stringify(JSON.parse(text)).includes(JSON.stringify(VALUE).slice(1, -1));
  } catch {
    return false;
  }
}

test('every echo form is found and replaced, keeping the length', () => {
  for (const [name, text] of Object.entries(echoes(VALUE))) {
    assert.ok(decodesToValue(text), `${name}: the test vector must carry the value`);
    const found = new Set<string>();
    const out = scrubber.scrubText(text, found);
    assert.deepEqual([...found], ['api-key'], `${name} was not found in ${text}`);
    assert.equal(out.length, text.length, name);
    assert.ok(!decodesToValue(out), `${name}: still recoverable from ${out}`);
    const bytes = Buffer.from(text, 'utf8');
    const copy = Buffer.from(bytes);
    scrubber.scrubBytes(copy);
    assert.equal(copy.length, bytes.length);
    assert.ok(!decodesToValue(copy.toString('utf8')), `${name} (bytes): still recoverable`);
  }
});

test('JSON bodies stay valid JSON after scrubbing', () => {
  for (const name of ['json', 'jsonSlashes', 'jsonAscii'] as const) {
    const out = scrubber.scrubText(echoes(VALUE)[name] ?? '');
    assert.doesNotThrow(() => JSON.parse(out), name);
    assert.match(out, /\[writ:scrubbed\]\**/);
  }
});

test('a form split across chunks is found at every split point', async () => {
  const text = `prefix ${JSON.stringify({ token: VALUE })} middle ${Buffer.from(`x${VALUE}`).toString('base64')} suffix ${VALUE}`;
  const whole = Buffer.from(text, 'utf8');
  const expected = Buffer.from(whole);
  scrubber.scrubBytes(expected);
  for (let cut1 = 1; cut1 < whole.length; cut1 += 3) {
    const cut2 = Math.min(whole.length, cut1 + 1 + (cut1 % 7));
    const chunks = [whole.subarray(0, cut1), whole.subarray(cut1, cut2), whole.subarray(cut2)].filter((c) => c.length > 0);
    const found: string[] = [];
    const out: Buffer[] = [];
    await pipeline(
      Readable.from(chunks.map((c) => Buffer.from(c))),
      scrubber.stream((id) => found.push(id)),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          out.push(chunk);
          cb();
        },
      }),
    );
    assert.deepEqual(Buffer.concat(out), expected, `cut at ${cut1}/${cut2}`);
    assert.deepEqual(found, ['api-key'], 'reported once per stream');
  }
});

test('one byte at a time: nothing of the value gets through', async () => {
  const whole = Buffer.from(`data: {"a":"${VALUE}"}\n\ndata: ${VALUE}\n\n`, 'utf8');
  const out: Buffer[] = [];
  await pipeline(
    Readable.from([...whole].map((b) => Buffer.from([b]))),
    scrubber.stream(() => undefined),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  const text = Buffer.concat(out).toString('utf8');
  assert.equal(Buffer.concat(out).length, whole.length);
  assert.ok(!text.includes('secret+value'), text);
});

test('parsed messages: strings at any depth and object keys are scrubbed; untouched parts keep their identity', () => {
  const clean = { list: [1, 'plain'], nested: { a: true } };
  const msg = {
    jsonrpc: '2.0',
    id: 3,
    result: {
      content: [{ type: 'text', text: `the header was Bearer ${VALUE}` }],
      structuredContent: { [VALUE]: 1, inner: { deep: [JSON.stringify({ k: VALUE })] } },
      clean,
    },
  };
  const found = new Set<string>();
  const out = scrubber.scrubJson(msg, found);
  assert.deepEqual([...found], ['api-key']);
  assert.ok(!JSON.stringify(out).includes('secret+value'));
  assert.equal(out.result.clean, clean, 'an untouched branch is not copied');
  assert.ok(JSON.stringify(msg).includes('secret+value'), 'the input is not mutated');
  const nothing = { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'fine' }] } };
  assert.equal(scrubber.scrubJson(nothing), nothing);
});

test('text that only resembles the value is left alone', () => {
  for (const text of ['sk/live"Ωsecret+value=123456789', 'SK/LIVE"ΩSECRET+VALUE=1234567890', 'nothing here at all']) {
    const found = new Set<string>();
    assert.equal(scrubber.scrubText(text, found), text);
    assert.equal(found.size, 0);
  }
});

test(`forms shorter than ${MIN_FORM_BYTES} bytes are not searched for`, () => {
  const short = SecretScrubber.of([{ secretId: 'pin', value: new SecretValue('1234') }]);
  assert.equal(short.scrubText('call 1234 now'), 'call 1234 now');
  assert.ok(formsOf('1234').includes('1234'));
  const empty = SecretScrubber.of([]);
  assert.ok(empty.empty);
  assert.equal(empty.holdBack, 0);
});

test('the scrubber names the secret, and its own description never holds the value', () => {
  assert.ok(!JSON.stringify(scrubber).includes('secret+value'));
  const two = SecretScrubber.of([
    { secretId: 'one', value: new SecretValue('first-secret-value') },
    { secretId: 'two', value: new SecretValue('second-secret-value') },
  ]);
  const found = new Set<string>();
  two.scrubText('a second-secret-value b', found);
  assert.deepEqual([...found], ['two']);
});
