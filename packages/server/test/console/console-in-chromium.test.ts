/**
 * The operator console end to end in real Chromium (Debian's, through playwright-core — never a browser download), on
 * both stores: dana (group writ-admins) signs in at the dev identity provider; alice's task appears live and is
 * killed from its node, after which the agent's next call is refused; an agent is revoked from its page; a grant with
 * an error shows the error in place and is fixed; a call is found in the audit explorer and its chain opened. bob
 * (writ-auditors) is read-only: the server refuses his changes, not only the page. Forged cross-origin requests and
 * framing fail. axe-core finds no serious or critical violation on any page; keyboard, focus and narrow windows work.
 *
 * With WRIT_CONSOLE_SCREENSHOTS=<dir>, the SQLite run saves a screenshot of each page there (docs/console.md).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TaskAuthorizationDetail } from '@writ/protocol';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, chromiumSkip, tabTo } from '../helpers/chromium.js';
import { describeEachStore } from '../helpers/stores.js';
import { AUTHORIZATION_SERVER_CONFIG } from '../helpers/authorization-harness.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { eventually } from '../helpers/eventually.js';
import { authorizeAs } from '@writ/dev/kit';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const skip = chromiumSkip();
const SCREENSHOTS = process.env['WRIT_CONSOLE_SCREENSHOTS'];
const PAGES = ['overview', 'agents', 'tasks', 'audit', 'grants', 'resources', 'approvals'] as const;
const WAIT = { timeout: 20_000 };
const DETAILS: TaskAuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }];

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }>;
}

describeEachStore('the console in Chromium', (kind) => {
  const h = useHarness(kind, {
    config: { ...AUTHORIZATION_SERVER_CONFIG, 'console.roles.admin': ['writ-admins'], 'console.roles.readOnly': ['writ-auditors'] },
  });
  let browser: Browser;
  let dana: BrowserContext;
  let page: Page;
  let agent: TestAgent;
  let hostile: Server;
  let hostileUrl = '';
  let hostilePage = '';

  before(async () => {
    agent = await h.registerAgent('agent-a');
    await h.registerAgent('agent-b');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    hostile = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(hostilePage));
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    hostileUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/`;
  });
  after(async () => {
    await browser?.close();
    hostile?.close();
  });

  const consoleUrl = (hash = ''): string => `${h.writ.publicUrl}/console/${hash}`;
  const password = (username: string): string => h.idp.accounts.find((a) => a.username === username)?.password ?? '';

  async function signIn(context: BrowserContext, username: string): Promise<Page> {
    const p = await context.newPage();
    await p.goto(consoleUrl());
    await p.getByRole('link', { name: 'Sign in' }).click();
    await p.fill('input[name="username"]', username);
    await p.fill('input[name="password"]', password(username));
    await p.press('input[name="password"]', 'Enter');
    await p.waitForSelector('#page-title', WAIT);
    return p;
  }

  async function go(p: Page, hash: string, title: string): Promise<void> {
    await p.goto(consoleUrl(hash));
    await p.getByRole('heading', { level: 1, name: title }).waitFor(WAIT);
  }

  async function confirmDialog(p: Page, label: string, reason: string): Promise<void> {
    const dialog = p.locator('dialog[open]');
    await dialog.waitFor(WAIT);
    await dialog.locator('#confirm-reason').fill(reason);
    await dialog.getByRole('button', { name: label }).click();
    await p
      .locator('dialog[open]')
      .waitFor({ state: 'detached', ...WAIT })
      .catch(() => p.locator('dialog[open]').waitFor({ state: 'hidden', ...WAIT }));
  }

  test('dana signs in at the identity provider and is an admin', { skip, timeout: 120_000 }, async () => {
    dana = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await signIn(dana, 'dana');
    assert.match((await page.textContent('header')) ?? '', /Dana Example\s*admin/);
    const cookie = (await dana.cookies()).find((c) => c.name === 'writ_console');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    const signedIn = await h.admin.get<Array<{ user_id?: string }>>('/audit?type=console.signed_in');
    assert.ok(signedIn.some((e) => e.user_id === 'dev:dana'));
  });

  test("alice's task appears live; killed from the tree, the agent's next call is refused", { skip, timeout: 120_000 }, async () => {
    await go(page, '#/tasks', 'Tasks');
    const task = await h.startTask(agent, { details: DETAILS, purpose: 'alice asks for her projects' });
    const node = page.locator('article', { hasText: 'alice asks for her projects' });
    await node.waitFor(WAIT); // no reload: the live stream told the page
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    await node.getByRole('button', { name: 'Stop task' }).click();
    assert.match((await page.textContent('dialog[open] .consequence')) ?? '', /alice asks for her projects.*stop on every node/s);
    await confirmDialog(page, 'Stop task', 'seen misbehaving in the console');
    await node.waitFor({ state: 'detached', ...WAIT });
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 401);
    await h.writ.flushAudit();
    const revoked = await h.admin.get<Array<{ task_id?: string; actor_chain?: string[] }>>('/audit?type=task.revoked');
    assert.ok(
      revoked.some((e) => e.task_id === task.id && e.actor_chain?.includes('user:dev:dana') === true),
      'audited as dana',
    );
  });

  test('an agent is revoked from its page', { skip, timeout: 120_000 }, async () => {
    await go(page, '#/agents?id=agent-b', 'Agents');
    await page.getByRole('heading', { name: 'Agent agent-b' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await confirmDialog(page, 'Revoke agent', 'retired from the console');
    const log = await h.admin.get<Array<{ target: { type: string; agentId?: string }; actor: string }>>('/revocations');
    assert.ok(log.some((r) => r.target.type === 'agent' && r.target.agentId === 'agent-b' && r.actor === 'user:dev:dana'));
  });

  test('a grant with an error shows it in place, at its line; fixed, it is created', { skip, timeout: 120_000 }, async () => {
    await go(page, '#/grants', 'Grants');
    await page.fill('#g-id', 'console-made');
    await page.fill(
      '#g-policy',
      'permit (\n  principal == Writ::Agent::"agent-a",\n  action == Writ::Action::"htp",\n  resource == Writ::Resource::"api"\n);',
    );
    await page.getByRole('button', { name: 'Create grant' }).click();
    const problem = page.locator('.problems li').first();
    await problem.waitFor(WAIT);
    assert.match((await problem.textContent()) ?? '', /Line 3, column \d+.*unrecognized action/s);
    assert.equal(await page.getAttribute('#g-policy', 'aria-invalid'), 'true');
    assert.deepEqual(await page.locator('.gutter .bad-line').allTextContents(), ['3']);
    await problem.getByRole('button').click();
    assert.equal(await page.evaluate('document.activeElement?.id'), 'g-policy', 'the error takes the caret to its place');
    assert.equal(
      (await h.admin.get<Array<{ id: string }>>('/grants')).some((g) => g.id === 'console-made'),
      false,
      'nothing stored',
    );
    await page.fill(
      '#g-policy',
      'permit (\n  principal == Writ::Agent::"agent-a",\n  action == Writ::Action::"http",\n  resource == Writ::Resource::"api"\n) when { context.method == "HEAD" };',
    );
    await page.getByRole('button', { name: 'Create grant' }).click();
    await page.getByText('Grant console-made created').waitFor(WAIT);
    assert.equal((await h.admin.get<{ id: string }>('/grants/console-made')).id, 'console-made');
  });

  test(
    'a call is found in the audit explorer and its chain opened: user → agent → calls, decisions, reasons, grants',
    { skip, timeout: 120_000 },
    async () => {
      await go(page, '#/audit', 'Audit');
      await page.getByText(/Hash chain verified: \d+ events/).waitFor(WAIT);
      await page.fill('#f-agent', 'agent-a');
      await page.selectOption('#f-decision', 'allow');
      await page.getByRole('button', { name: 'Filter' }).click();
      const row = page.locator('tbody tr', { hasText: 'call.allowed' }).first();
      await row.waitFor(WAIT);
      await row.getByRole('link', { name: 'Chain' }).click();
      const chain = page.locator('section[aria-labelledby="chain-h"]');
      await chain
        .getByRole('heading', { name: /dev:alice → agent-a/ })
        .first()
        .waitFor(WAIT);
      const text = (await chain.textContent()) ?? '';
      assert.match(text, /call\.allowed\s*GET \/v1\/projects — allow allowed · grants default\.0/);
      assert.match(text, /task\.revoked\s*— deny seen misbehaving in the console\s*by user:dev:dana/, 'and who stopped it');
      assert.match(text, /call\.denied\s*GET \S+ — deny ERR_REVOKED_TASK/, 'and the call the agent tried after it');
    },
  );

  test(
    'bob is read-only: no change on the page, and the server refuses the change he sends anyway',
    { skip, timeout: 120_000 },
    async () => {
      const bobContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      try {
        const bob = await signIn(bobContext, 'bob');
        assert.match((await bob.textContent('header')) ?? '', /Bob Example\s*read-only/);
        await go(bob, '#/tasks', 'Tasks');
        await h.startTask(agent, { details: DETAILS, purpose: 'alice asks again' });
        await bob.locator('article', { hasText: 'alice asks again' }).waitFor(WAIT);
        assert.equal(await bob.getByRole('button', { name: 'Stop task' }).count(), 0);
        const before = (await h.admin.get<unknown[]>('/revocations')).length;
        const answer = await bob.evaluate(async () => {
          const s = (await (await fetch('/console/session')).json()) as { csrf: string };
          const r = await fetch('/admin/v1/revocations', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-writ-csrf': s.csrf },
            body: JSON.stringify({ target: { type: 'user', userId: 'dev:alice' }, reason: 'bob tries' }),
          });
          return { status: r.status, body: (await r.json()) as { code?: string } };
        });
        assert.deepEqual([answer.status, answer.body.code], [403, 'ERR_ADMIN_FORBIDDEN']);
        assert.equal((await h.admin.get<unknown[]>('/revocations')).length, before, 'nothing revoked');
        await go(bob, '#/grants', 'Grants');
        assert.equal(await bob.locator('#g-policy').count(), 0, 'no grant editor for a read-only operator');
        const refused = await h.admin.get<Array<{ user_id?: string; detail?: string }>>('/audit?type=admin.denied');
        assert.ok(refused.some((e) => e.user_id === 'dev:bob' && e.detail === 'read-only role'));
        // Offboarded (a user revocation), bob is out of the console at once, on every node.
        await h.admin.post('/revocations', { target: { type: 'user', userId: 'dev:bob' }, reason: 'left the company' });
        await eventually(
          async () => (await bob.evaluate(async () => (await fetch('/console/session')).status)) === 401,
          "bob's console session ended",
        );
      } finally {
        await bobContext.close();
      }
    },
  );

  test(
    'a forged cross-origin request changes nothing, and the console will not render in a frame',
    { skip, timeout: 120_000 },
    async () => {
      const before = (await h.admin.get<unknown[]>('/revocations')).length;
      const body = JSON.stringify({ target: { type: 'all' }, reason: 'forged' });
      const writ = h.writ.publicUrl;
      hostilePage = `<!doctype html><title>hostile</title><iframe id="f" src="${writ}/console/" width="800" height="600"></iframe>
<form id="form" method="POST" action="${writ}/admin/v1/revocations" enctype="text/plain" target="sink"><input name='${body.slice(0, -1)}' value='"}'></form>
<iframe name="sink"></iframe>
<script>
window.attempts = Promise.allSettled([
  fetch(${JSON.stringify(`${writ}/admin/v1/revocations`)}, { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(body)} }),
  fetch(${JSON.stringify(`${writ}/admin/v1/revocations`)}, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-writ-csrf': 'guessed' }, body: ${JSON.stringify(body)} }),
]).then(() => { document.getElementById('form').submit(); return 'done'; });
</script>`;
      const attacker = await dana.newPage();
      const framed = attacker.waitForResponse((r) => r.url() === `${writ}/console/`);
      const formPost = attacker.waitForResponse((r) => r.url() === `${writ}/admin/v1/revocations` && r.request().method() === 'POST');
      await attacker.goto(hostileUrl);
      assert.equal(await attacker.evaluate('window.attempts'), 'done');
      const posted = await formPost;
      assert.ok(posted.status() >= 400, `the forged form is refused (${posted.status()})`);
      assert.equal((await h.admin.get<unknown[]>('/revocations')).length, before, 'nothing was revoked');
      const served = await framed;
      assert.match(served.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
      assert.equal(served.headers()['x-frame-options'], 'DENY');
      const frame = await (await attacker.waitForSelector('#f')).contentFrame();
      const content = (await frame?.content().catch(() => '')) ?? '';
      assert.doesNotMatch(content, /Writ console|app\.js/);
      await attacker.close();
    },
  );

  test(
    "login CSRF: a sign-in's callback delivered to another browser opens no session there (the relying party checks, for every flow)",
    { skip, timeout: 120_000 },
    async () => {
      // The attacker starts a console sign-in and signs in as themselves, stops before the callback (keeping the
      // binding cookie to themselves), and makes the victim's browser open the callback URL.
      const start = await fetch(consoleUrl().replace(/\/$/, '/login'), { redirect: 'manual' });
      assert.equal(start.status, 303);
      assert.match(
        start.headers.get('set-cookie') ?? '',
        /^writ_login_[A-Za-z0-9_-]{16}=[A-Za-z0-9_-]{43}; Path=\/oauth2\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/,
      );
      const { url: callback } = await authorizeAs(
        start.headers.get('location') ?? '',
        { username: 'bob', password: password('bob') },
        { redirectUri: `${h.writ.publicUrl}/oauth2/callback` },
      );
      assert.ok(callback.searchParams.has('code'));
      const victim = await browser.newContext();
      try {
        const v = await victim.newPage();
        const answer = await v.goto(callback.href);
        assert.equal(answer?.status(), 400);
        assert.match((await v.textContent('main')) ?? '', /not started in this browser/);
        assert.equal(
          (await victim.cookies()).some((c) => c.name === 'writ_console'),
          false,
          'no session for the victim',
        );
        // Refused before the code was redeemed: the provider's code is spent for nobody.
        const denied = await h.admin.get<Array<{ reason?: string; detail?: string }>>('/audit?type=authorization.denied');
        assert.ok(denied.some((e) => e.reason === 'login_failed' && e.detail?.startsWith('login not bound to this browser') === true));
      } finally {
        await victim.close();
      }
    },
  );

  test('keyboard: skip link, sections by Tab and Enter, focus visible and moved to the page', { skip, timeout: 120_000 }, async () => {
    await go(page, '#/overview', 'Overview');
    // The skip link is the first thing the keyboard reaches on every page, and takes focus to the content.
    assert.equal(await page.evaluate(`document.querySelector('a[href], button, input, select, textarea, [tabindex]')?.className`), 'skip');
    await page.focus('a.skip');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate('document.activeElement?.id'), 'main');
    await page.focus('a.skip');
    await tabTo(page, 'nav a[href="#/agents"]', 'the Agents link');
    assert.notEqual(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle'), 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Agents' }).waitFor(WAIT);
    await page.waitForFunction(`document.activeElement?.id === 'main'`, undefined, WAIT); // focus moves to the new page
  });

  test(
    'axe-core: no serious or critical violation on any page; nothing overflows a narrow window (200 % zoom)',
    { skip, timeout: 120_000 },
    async () => {
      // axe is injected as a script, which the console's own CSP rightly refuses: this context bypasses CSP for it.
      const audit = await browser.newContext({
        viewport: { width: 1280, height: 800 },
        bypassCSP: true,
        storageState: await dana.storageState(),
      });
      try {
        const p = await audit.newPage();
        for (const name of PAGES) {
          for (const width of [1280, 640]) {
            await p.setViewportSize({ width, height: 800 });
            await go(p, `#/${name}`, name === 'resources' ? 'Resources & secrets' : name[0]?.toUpperCase() + name.slice(1));
            await p
              .locator('[role="status"]', { hasText: 'Loading' })
              .waitFor({ state: 'detached', ...WAIT })
              .catch(() => undefined);
            if (width === 1280 && SCREENSHOTS !== undefined && kind.name === 'sqlite') {
              mkdirSync(SCREENSHOTS, { recursive: true });
              await p.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
            }
            await p.addScriptTag({ path: AXE });
            const result = await p.evaluate<AxeResult>(
              `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })`,
            );
            const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
            assert.deepEqual(
              bad.map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.slice(0, 3).map((n) => n.target))}`),
              [],
              `${name} at ${width}px`,
            );
            const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
            assert.ok(overflow <= 0, `${name} at ${width}px scrolls sideways by ${overflow}px`);
          }
        }
      } finally {
        await audit.close();
      }
    },
  );
});
