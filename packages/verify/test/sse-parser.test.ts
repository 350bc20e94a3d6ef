/** The SSE parser (WHATWG HTML §9.2.6): line endings in every spelling and across chunks, fields, comments, bounds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSseParser, type SseEvent } from '../src/middleware/sse-parser.js';

function parse(chunks: string[], maxLineLength?: number): { events: SseEvent[]; comments: string[] } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const p = createSseParser({
    onEvent: (e) => events.push(e),
    onComment: (c) => comments.push(c),
    ...(maxLineLength ? { maxLineLength } : {}),
  });
  for (const c of chunks) p.push(c);
  return { events, comments };
}

test('events, whatever the line endings and however the stream is cut', () => {
  const text = 'id: 1\r\nevent: revocation\r\ndata: {"a":1}\r\n\r\n: ping\n\nid: 2\revent: ready\rdata: x\rdata: y\r\r';
  const want = [
    { type: 'revocation', data: '{"a":1}', id: '1' },
    { type: 'ready', data: 'x\ny', id: '2' },
  ];
  assert.deepEqual(parse([text]).events, want);
  // Every cut point, including between the CR and LF of a CRLF.
  for (let i = 1; i < text.length; i++) assert.deepEqual(parse([text.slice(0, i), text.slice(i)]).events, want, `cut at ${i}`);
  assert.deepEqual(parse([...text]).events, want, 'one character at a time');
  assert.deepEqual(parse([text]).comments, ['ping']);
});

test('field rules: one optional space, no-colon fields, default type, id carried over, NUL ids ignored, no data no event', () => {
  const { events } = parse(['data:a\n\ndata:  b\nfoo\nretry: 10\n\nid: 5\nevent: x\n\ndata\n\nid: a\0b\ndata: c\n\n']);
  assert.deepEqual(events, [
    { type: 'message', data: 'a', id: '' },
    { type: 'message', data: ' b', id: '' },
    { type: 'message', data: '', id: '5' },
    { type: 'message', data: 'c', id: '5' },
  ]);
});

test('a line or an event past the bound is an error, not unbounded memory', () => {
  assert.throws(() => parse(['data: ' + 'x'.repeat(200)], 100), RangeError);
  assert.throws(() => parse(['data: ' + 'x'.repeat(60) + '\ndata: ' + 'x'.repeat(60) + '\n'], 100), RangeError);
  assert.doesNotThrow(() => parse(['data: ' + 'x'.repeat(60) + '\n\ndata: ' + 'x'.repeat(60) + '\n\n'], 100));
});
