/**
 * Admin and Shared Signals receiver tokens cannot be guessed at request rate: after `limits.authFailures` failures
 * from one address that address is locked out (429 with Retry-After), even with the right token, while another
 * address with the right token still gets in; the failures are audited once per window with their count, not once
 * per attempt; two Authorization headers are refused. Clients here pick their loopback source address (127.0.0.x).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { before, test } from 'node:test';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request from a chosen loopback source address; `headers` as raw pairs, so a header may repeat. */
function from(source: string, url: string, method: string, headers: [string, string][]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Raw header pairs replace Node's defaults, Host included.
    const all: [string, string][] = [['host', new URL(url).host], ...headers];
    const req = request(url, { method, localAddress: source, headers: all.flat(), agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const FAILURES = 5;

describeEachStore('credential guessing', (kind) => {
  const h = useHarness(kind, {
    config: { 'limits.authFailures': FAILURES, 'limits.authWindowSeconds': 3600, 'limits.authLockoutSeconds': 3600 },
  });
  let receiverToken: string;
  before(async () => {
    receiverToken = (await h.admin.post<{ token: string }>('/ssf/receivers', { name: 'r', audience: 'https://receiver.example' })).token;
  });
  const admin = (source: string, token: string): Promise<Answer> =>
    from(source, `${h.writ.url}/admin/v1/agents`, 'GET', [['authorization', `Bearer ${token}`]]);

  test('admin: locked out after the allowed failures, even with the right token; another address still gets in', async () => {
    const wrong = `writ_admin_${'x'.repeat(43)}`;
    for (let i = 1; i < FAILURES; i++) assert.equal((await admin('127.0.0.2', wrong)).status, 401, `failure ${i}`);
    const locking = await admin('127.0.0.2', wrong);
    assert.equal(locking.status, 429);
    assert.equal(JSON.parse(locking.body).code, 'ERR_ADMIN_RATE_LIMITED');
    assert.ok(Number(locking.headers['retry-after']) > 0);
    const right = await admin('127.0.0.2', h.adminToken);
    assert.equal(right.status, 429, 'the right token from a locked-out address');
    assert.equal((await admin('127.0.0.3', h.adminToken)).status, 200, 'the right token from another address');

    await h.writ.flushAudit();
    const denied = (await h.admin.get<{ reason: string; data: { source?: string; aggregated?: number } }[]>('/audit?limit=1000')).filter(
      (e) => e.data.source === '127.0.0.2',
    );
    // On the record per window and reason, with counts: not once per guess.
    assert.ok(denied.length <= 4, `audited ${denied.length} times for ${FAILURES + 1} refusals`);
    assert.equal(
      denied.reduce((n, e) => n + (e.data.aggregated ?? 1), 0),
      FAILURES,
      'every failed authentication counted',
    );
    assert.ok(denied.some((e) => e.reason === 'ERR_ADMIN_RATE_LIMITED'));
  });

  test('admin: two Authorization headers are refused, even when one of them is right', async () => {
    const r = await from('127.0.0.4', `${h.writ.url}/admin/v1/agents`, 'GET', [
      ['authorization', `Bearer ${h.adminToken}`],
      ['authorization', `Bearer ${h.adminToken}`],
    ]);
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).code, 'ERR_ADMIN_INVALID_REQUEST');
  });

  test('Shared Signals: a receiver token guessed from one address locks that address out; the real receiver elsewhere is served', async () => {
    const stream = (source: string, token: string): Promise<Answer> =>
      from(source, `${h.writ.url}/ssf/v1/streams`, 'GET', [['authorization', `Bearer ${token}`]]);
    for (let i = 1; i < FAILURES; i++) assert.equal((await stream('127.0.0.5', `guess-${i}-${'y'.repeat(30)}`)).status, 401);
    const locking = await stream('127.0.0.5', `guess-last-${'y'.repeat(30)}`);
    assert.equal(locking.status, 429);
    assert.equal(JSON.parse(locking.body).error, 'too_many_requests');
    assert.equal((await stream('127.0.0.5', receiverToken)).status, 429);
    assert.equal((await stream('127.0.0.6', receiverToken)).status, 200);
  });

  test('revocation feed: guessed tokens lock the address out; the right token elsewhere opens the feed; two Authorization headers are refused', async () => {
    const feed = `${h.writ.url}/revocation/v1/events`;
    for (let i = 1; i < FAILURES; i++)
      assert.equal((await from('127.0.0.7', feed, 'GET', [['authorization', `Bearer guess-${i}`]])).status, 401, `failure ${i}`);
    const locking = await from('127.0.0.7', feed, 'GET', [['authorization', 'Bearer guess-last']]);
    assert.equal(locking.status, 429);
    assert.equal(JSON.parse(locking.body).code, 'ERR_ADMIN_RATE_LIMITED');
    assert.ok(Number(locking.headers['retry-after']) > 0);
    assert.equal((await from('127.0.0.7', feed, 'GET', [['authorization', `Bearer ${h.adminToken}`]])).status, 429);
    const twice = await from('127.0.0.9', feed, 'GET', [
      ['authorization', `Bearer ${h.adminToken}`],
      ['authorization', 'Bearer other'],
    ]);
    assert.equal(twice.status, 400);
    // The feed is a stream: its answer's status is all this needs.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        feed,
        { localAddress: '127.0.0.8', headers: { authorization: `Bearer ${h.adminToken}` }, agent: false },
        (res) => {
          resolve(res.statusCode ?? 0);
          res.destroy();
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200, 'the right token from another address');
  });
});
