/**
 * The console's server side over HTTP, on both stores: its page and assets under a strict CSP; one-time links (once,
 * five minutes, admin tokens only); the session cookie's attributes; the admin API accepting the session — and
 * refusing, changing nothing, every request but a GET without the whole CSRF proof; idle and absolute ends; sign-out.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

describeEachStore('console sessions', (kind) => {
  const h = useHarness(kind, { config: { 'console.idleMinutes': 30, 'console.absoluteHours': 8 } });
  const origin = (): string => new URL(h.writ.publicUrl).origin;

  async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${h.writ.publicUrl}${path}`, { headers, redirect: 'manual' });
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  async function send(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
    const res = await fetch(`${h.writ.publicUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /** Signs in with a fresh one-time link; the cookie to send and the session's CSRF token. */
  async function signIn(): Promise<{ cookie: string; csrf: string; setCookie: string }> {
    const { url } = await h.admin.post<{ url: string }>('/console/links', {});
    const res = await get(new URL(url).pathname + new URL(url).search);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `${h.writ.publicUrl}/console/`);
    const setCookie = res.headers.get('set-cookie') ?? '';
    const cookie = setCookie.split(';', 1)[0] ?? '';
    const session = JSON.parse((await get('/console/session', { cookie })).body) as { csrf: string };
    return { cookie, csrf: session.csrf, setCookie };
  }

  const revocationCount = async (): Promise<number> => (await h.admin.get<unknown[]>('/revocations')).length;

  test('the page and its assets: a strict CSP, no framing, integrity on every script and stylesheet, nothing else served', async () => {
    const page = await get('/console/');
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"])
      assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    for (const [, name, integrity] of page.body.matchAll(/\/console\/assets\/([a-z.]+)" integrity="([^"]+)"/g)) {
      const asset = await fetch(`${h.writ.publicUrl}/console/assets/${name}`);
      const bytes = Buffer.from(await asset.arrayBuffer());
      assert.equal(integrity, `sha384-${createHash('sha384').update(bytes).digest('base64')}`, `${name} matches its integrity hash`);
      assert.ok(asset.headers.get('content-security-policy')?.includes("frame-ancestors 'none'"));
    }
    assert.match(page.body, /app\.js" integrity=/);
    for (const path of ['/console/assets/nope.js', '/console/assets/..%2f..%2fpackage.json', '/console/assets/index.html'])
      assert.equal((await get(path)).status, 404, path);
    assert.equal((await get('/console')).headers.get('location'), '/console/');
  });

  test('a one-time link signs its admin token in, once; the cookie is HttpOnly, SameSite=Strict, for the whole origin', async () => {
    const { url } = await h.admin.post<{ url: string }>('/console/links', {});
    const path = new URL(url).pathname + new URL(url).search;
    const first = await get(path);
    assert.equal(first.status, 303);
    const setCookie = first.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^writ_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    const session = JSON.parse((await get('/console/session', { cookie: setCookie.split(';', 1)[0] ?? '' })).body) as Record<
      string,
      unknown
    >;
    assert.equal(session['role'], 'admin');
    assert.equal(session['kind'], 'admin-token');
    assert.equal(session['name'], 'WRIT_ADMIN_TOKEN');
    assert.equal((await get(path)).status, 400, 'a used link is refused');
    const late = await h.admin.post<{ url: string }>('/console/links', {});
    h.clock.advance(5 * 60 + 1);
    assert.equal((await get(new URL(late.url).pathname + new URL(late.url).search)).status, 400, 'an expired link is refused');
    assert.equal((await get('/console/link?code=not-a-code')).status, 400);
    const denied = await h.admin.get<Array<{ reason: string }>>('/audit?type=console.denied');
    assert.ok(denied.filter((e) => e.reason === 'link_invalid').length >= 3);
  });

  test('the admin API takes the session; every change needs the CSRF token, Writ as Origin and a same-origin fetch', async () => {
    const { cookie, csrf } = await signIn();
    assert.equal((await get('/admin/v1/agents', { cookie })).status, 200);
    const body = { target: { type: 'user', userId: 'dev:mallory' }, reason: 'csrf test' };
    const before = await revocationCount();
    const attempts: Array<[string, Record<string, string>]> = [
      ['no token', { cookie, origin: origin() }],
      ['a wrong token', { cookie, origin: origin(), 'x-writ-csrf': `${csrf.slice(0, -2)}AA` }],
      ['another origin', { cookie, origin: 'http://127.0.0.1:1', 'x-writ-csrf': csrf }],
      ['no origin', { cookie, 'x-writ-csrf': csrf }],
      ['a cross-site fetch', { cookie, origin: origin(), 'x-writ-csrf': csrf, 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [what, headers] of attempts) {
      const res = await send('POST', '/admin/v1/revocations', headers, body);
      assert.equal(res.status, 403, what);
      assert.equal((JSON.parse(res.body) as { code: string }).code, 'ERR_ADMIN_FORBIDDEN', what);
    }
    assert.equal(await revocationCount(), before, 'nothing was revoked');
    const ok = await send(
      'POST',
      '/admin/v1/revocations',
      { cookie, origin: origin(), 'x-writ-csrf': csrf, 'sec-fetch-site': 'same-origin' },
      body,
    );
    assert.equal(ok.status, 201, ok.body);
    assert.equal(await revocationCount(), before + 1);
    const refused = await h.admin.get<Array<{ detail?: string }>>('/audit?type=admin.denied');
    assert.ok(refused.filter((e) => e.detail?.startsWith('CSRF check failed') === true).length >= attempts.length);
    // Made by the token's own console session: the record names the token, as its own calls do.
    const made = await h.admin.get<Array<{ actor_chain?: string[]; data?: Record<string, unknown> }>>('/audit?type=revocation.created');
    assert.ok(made.some((e) => JSON.stringify(e).includes('admin:WRIT_ADMIN_TOKEN') && JSON.stringify(e).includes('csrf test')));
  });

  test('an Authorization header decides alone: a bad token is refused even beside a good cookie', async () => {
    const { cookie } = await signIn();
    assert.equal((await get('/admin/v1/agents', { cookie, authorization: 'Bearer not-a-valid-admin-token-at-all' })).status, 401);
  });

  test('a session ends when idle (its own refreshes do not count) and at its absolute end, used or not', async () => {
    const idle = await signIn();
    h.clock.advance(20 * 60);
    assert.equal((await get('/admin/v1/agents', { cookie: idle.cookie, 'x-writ-background': '1' })).status, 200);
    h.clock.advance(11 * 60);
    assert.equal((await get('/admin/v1/agents', { cookie: idle.cookie })).status, 401, 'background reads kept nothing alive');
    assert.equal((await get('/console/session', { cookie: idle.cookie })).status, 401);

    const used = await signIn();
    for (let i = 0; i < 16; i++) {
      h.clock.advance(29 * 60);
      assert.equal((await get('/admin/v1/agents', { cookie: used.cookie })).status, 200, `use ${i}`);
    }
    h.clock.advance(30 * 60);
    assert.equal((await get('/admin/v1/agents', { cookie: used.cookie })).status, 401, 'over after eight hours however used');
  });

  test('sign-out needs the CSRF proof, ends the session and clears the cookie', async () => {
    const { cookie, csrf } = await signIn();
    assert.equal((await send('POST', '/console/logout', { cookie, origin: origin() })).status, 403);
    assert.equal((await get('/console/session', { cookie })).status, 200);
    const refused = await h.admin.get<Array<{ reason?: string; actor_chain?: string[] }>>('/audit?type=console.denied');
    assert.ok(
      refused.some((e) => e.reason === 'csrf' && e.actor_chain?.[0] === 'admin:WRIT_ADMIN_TOKEN'),
      'the refusal is audited',
    );
    const out = await send('POST', '/console/logout', { cookie, origin: origin(), 'x-writ-csrf': csrf });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /^writ_console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
    assert.equal((await get('/console/session', { cookie })).status, 401);
  });

  test('only an admin token makes links; a console session cannot mint one', async () => {
    const { cookie, csrf } = await signIn();
    const res = await send('POST', '/admin/v1/console/links', { cookie, origin: origin(), 'x-writ-csrf': csrf });
    assert.equal(res.status, 403);
  });

  test('the overview: tasks live, calls per minute, this node, and (in a cluster only) every node', async () => {
    const { cookie } = await signIn();
    const o = JSON.parse((await get('/admin/v1/overview?minutes=5', { cookie })).body) as {
      tasks: { active: number };
      approvals: { pending: number };
      calls: Array<{ minute: number; allowed: number; denied: number }>;
      node: { ready: boolean; revocation: { state: string }; cluster: { role: string } };
      nodes: unknown;
    };
    assert.equal(typeof o.tasks.active, 'number');
    assert.equal(o.approvals.pending, 0);
    assert.equal(o.calls.length, 5);
    assert.ok(o.calls.every((c, i) => i === 0 || c.minute - (o.calls[i - 1]?.minute ?? 0) === 60_000));
    assert.equal(o.node.revocation.state, 'current');
    assert.equal(o.node.cluster.role, 'both');
    // On PostgreSQL every node reports itself (a cluster of one here); the embedded store has no other node.
    if (kind.name === 'postgres') assert.ok(Array.isArray(o.nodes));
    else assert.equal(o.nodes, null);
    assert.equal((await get('/admin/v1/overview?minutes=0', { cookie })).status, 400);
  });

  test('the live stream needs a session and sends the audit head', async () => {
    assert.equal((await get('/console/events')).status, 401);
    const { cookie } = await signIn();
    const controller = new AbortController();
    const res = await fetch(`${h.writ.publicUrl}/console/events`, { headers: { cookie }, signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body?.getReader();
    let text = '';
    while (!/event: change\ndata: \{"seq":\d+\}/.test(text)) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      text += Buffer.from(chunk.value).toString('utf8');
    }
    controller.abort();
    assert.match(text, /event: change\ndata: \{"seq":\d+\}/);
  });
});
