/** The framing underneath stdio: lines split across chunks and chunks holding many lines, CRLF, the length cap. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter, type SplitLine } from '../../../src/gateway/mcp/upstream/line-splitter.js';

function split(maxBytes: number, chunks: (string | Buffer)[], end = true): SplitLine[] {
  const out: SplitLine[] = [];
  const s = new LineSplitter(maxBytes, (l) => out.push(l));
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c);
  if (end) s.end();
  return out;
}
const lines = (...texts: string[]): SplitLine[] => texts.map((text) => ({ text, truncated: false }));

test('lines across and within chunks; CRLF; an unterminated last line counts at end()', () => {
  assert.deepEqual(split(100, ['{"a":', '1}\n{"b":2}\n{"c"', ':3}\r\n', 'tail']), lines('{"a":1}', '{"b":2}', '{"c":3}', 'tail'));
  assert.deepEqual(split(100, ['x\n'], false), lines('x'));
  assert.deepEqual(split(100, ['\n\n']), lines('', ''));
});

test('a multi-byte character split across chunks is decoded whole', () => {
  const bytes = Buffer.from('é€\n');
  assert.deepEqual(split(100, [bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)]), lines('é€'));
});

test('over the cap: the beginning is kept, marked truncated, and the rest of that line is discarded', () => {
  assert.deepEqual(split(4, ['abcdefgh', 'ijk\nok\n']), [
    { text: 'abcd', truncated: true },
    { text: 'ok', truncated: false },
  ]);
  assert.deepEqual(split(4, ['abcd\n']), lines('abcd'), 'exactly the cap is not truncated');
  assert.throws(() => new LineSplitter(0, () => undefined), TypeError);
});
