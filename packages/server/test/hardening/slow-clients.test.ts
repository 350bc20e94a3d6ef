/**
 * Slow and oversized clients cost the listener a bounded amount: a request whose headers or body never finish is
 * answered 408 and its connection closed once the configured time is up (a token request announcing 100 bytes and
 * sending 12 among them); too many headers or too large a header block is 431; an admin body past its cap is 413.
 * The limits are small here so the test does not wait; it never asserts on how long anything took.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { PATHS } from '@writ/protocol';
import { STORE_KINDS } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';

/** Sends `chunks` over a raw connection, then reads until the server closes it; returns all it answered. */
function rawExchange(url: string, chunks: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
    });
  });
}

describe('slow and oversized clients', () => {
  const h = useHarness(STORE_KINDS[0] as (typeof STORE_KINDS)[number], {
    config: {
      'server.headersTimeoutMs': 300,
      'server.requestTimeoutMs': 600,
      'server.maxHeadersCount': 20,
      'server.maxHeaderBytes': 4096,
      'server.adminBodyBytes': 1024,
    },
  });
  const host = (): string => new URL(h.writ.url).host;

  // Node's own bounds are 60 s (headers) and 300 s (request): a test bound far above the configured ones and far
  // below Node's makes these fail if the configuration were not applied, without depending on how fast anything is.
  const BOUND = { timeout: 20_000 };

  test('a token request that sends 12 of the 100 bytes it announced is answered 408 and closed', BOUND, async () => {
    const answer = await rawExchange(h.writ.url, [
      `POST ${PATHS.token} HTTP/1.1\r\nHost: ${host()}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n`,
      'grant_type=x',
    ]);
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  test('headers that never finish are answered 408 and closed', BOUND, async () => {
    const answer = await rawExchange(h.writ.url, [`GET /healthz HTTP/1.1\r\nHost: ${host()}\r\nX-Slow: a`]);
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  test('what the listener refuses before any handler (stalled, unreadable) is on the record too', BOUND, async () => {
    assert.match(await rawExchange(h.writ.url, [`GET /healthz HTTP/1.1\r\nHost: ${host()}\r\nX-Slow: a`]), /^HTTP\/1\.1 408 /);
    assert.match(await rawExchange(h.writ.url, ['NOT-HTTP\r\n\r\n']), /^HTTP\/1\.1 400 /);
    await h.writ.flushAudit();
    const refused = await h.admin.get<{ type: string; reason: string; data: { status?: number } }[]>('/audit?limit=1000');
    const listener = refused.filter((e) => e.type === 'request.refused');
    assert.ok(listener.some((e) => e.reason === 'ERR_HTTP_REQUEST_TIMEOUT' && e.data.status === 408));
    assert.ok(listener.some((e) => e.reason === 'ERR_HTTP_MALFORMED' && e.data.status === 400));
  });

  test('more headers than allowed is 431, on every path', async () => {
    for (const path of ['/healthz', `${PATHS.httpResourcePrefix}api/v1/projects`, PATHS.token]) {
      const extra = Array.from({ length: 25 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
      const answer = await rawExchange(h.writ.url, [`GET ${path} HTTP/1.1\r\nHost: ${host()}\r\n${extra}Connection: close\r\n\r\n`]);
      assert.match(answer, /^HTTP\/1\.1 431 /, path);
    }
    // Refused where every refusal is: on the record (per window and address, like any unauthenticated refusal).
    await h.writ.flushAudit();
    const refused = await h.admin.get<{ reason: string }[]>('/audit?limit=1000');
    assert.ok(refused.some((e) => e.reason === 'ERR_HEADER_INVALID'));
    // At the limit, served.
    const ok = Array.from({ length: 15 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    assert.match(
      await rawExchange(h.writ.url, [`GET /healthz HTTP/1.1\r\nHost: ${host()}\r\n${ok}Connection: close\r\n\r\n`]),
      /^HTTP\/1\.1 200 /,
    );
  });

  test('a header block larger than allowed is 431', async () => {
    const answer = await rawExchange(h.writ.url, [
      `GET /healthz HTTP/1.1\r\nHost: ${host()}\r\nX-Big: ${'a'.repeat(5000)}\r\nConnection: close\r\n\r\n`,
    ]);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    await h.writ.flushAudit();
    const refused = await h.admin.get<{ type: string; reason: string }[]>('/audit?limit=1000');
    assert.ok(refused.some((e) => e.type === 'request.refused' && e.reason === 'ERR_HEADER_INVALID'));
  });

  test('an admin body past its cap is 413 and changes nothing; an OAuth form past 64 KiB is invalid_request', async () => {
    const res = await fetch(`${h.writ.url}/admin/v1/grants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'big', policy: `// ${'x'.repeat(2000)}\npermit (principal, action, resource);` }),
    });
    assert.equal(res.status, 413);
    assert.equal((await fetch(`${h.writ.url}/admin/v1/grants/big`, { headers: { authorization: `Bearer ${h.adminToken}` } })).status, 404);
    const form = await fetch(`${h.writ.publicUrl}${PATHS.token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=x&pad=${'a'.repeat(70 * 1024)}`,
    });
    assert.equal(form.status, 400);
    assert.equal(((await form.json()) as { error: string }).error, 'invalid_request');
  });
});
