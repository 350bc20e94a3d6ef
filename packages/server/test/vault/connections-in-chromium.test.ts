/**
 * The connected-accounts page in a real browser (Debian's Chromium, driven by playwright-core — never a browser
 * download): alice opens her connections, signs in at the organisation's provider, connects her account at the
 * upstream (signing in there too), sees it active, and disconnects it — with the keyboard alone. The page may not be
 * framed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { startUpstreamAuthorizationServer } from '@writ/dev';
import { AUTHORIZATION_SERVER_CONFIG } from '../helpers/authorization-harness.js';
import { CHROMIUM, chromiumSkip, tabTo } from '../helpers/chromium.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { startHarness } from '../helpers/writ-harness.js';

const kind = STORE_KINDS.find((k) => k.name === 'sqlite');
const skip = chromiumSkip();

/** Either provider's sign-in form: the username field has focus. */
async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.waitForSelector('input[name="username"]');
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

test('connected accounts in Chromium: connect, see it, disconnect — keyboard only; no framing', { skip, timeout: 120_000 }, async (t) => {
  if (kind === undefined) throw new Error('no sqlite store kind');
  const h = await startHarness(kind, { config: AUTHORIZATION_SERVER_CONFIG });
  const upstreamAlice = { username: 'alice-at-upstream', password: 'alice-upstream-password' };
  const as = await startUpstreamAuthorizationServer({
    clients: [],
    accounts: [upstreamAlice],
    codeClients: [
      {
        client_id: 'writ-connect',
        client_secret: 'connect-client-secret-0123456789',
        redirect_uris: [`${h.writ.publicUrl}/oauth2/connections/calendar/callback`],
        scope: 'openid read:projects',
      },
    ],
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(async () => {
    await browser.close();
    await as.close();
    await h.close();
  });
  await h.admin.put('/secrets/calendar', {
    kind: 'user_oauth',
    authorizationEndpoint: as.authorizationEndpoint,
    tokenEndpoint: as.tokenEndpoint,
    clientId: 'writ-connect',
    clientSecret: 'connect-client-secret-0123456789',
    scope: 'openid read:projects',
    description: 'your calendar',
  });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const password = h.idp.accounts.find((a) => a.username === 'alice')?.password ?? '';

  await page.goto(`${h.writ.publicUrl}/oauth2/connections`);
  await signIn(page, 'alice', password);
  await page.waitForSelector('h1:text("Connected accounts")');
  assert.match((await page.textContent('main')) ?? '', /dev:alice/);
  assert.match((await page.textContent('main')) ?? '', /your calendar\s*not connected/);

  await tabTo(page, 'form[action$="/calendar/connect"] button', 'Connect');
  const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
  assert.notEqual(outline, 'none', 'the focused control is visibly marked');
  await page.keyboard.press('Enter');
  await signIn(page, upstreamAlice.username, upstreamAlice.password);
  await page.waitForSelector('button:text("Disconnect")');
  assert.match((await page.textContent('main')) ?? '', /active since/);
  const listed = await h.admin.get<{ user_id: string; status: string }[]>('/connections?secret=calendar');
  assert.deepEqual(
    listed.map((c) => [c.user_id, c.status]),
    [['dev:alice', 'active']],
  );

  await tabTo(page, 'button', 'Disconnect');
  await page.keyboard.press('Enter');
  await page.waitForSelector('button:text("Connect again")');
  assert.match((await page.textContent('main')) ?? '', /revoked/);
  assert.deepEqual(
    (await h.admin.get<{ status: string }[]>('/connections?secret=calendar')).map((c) => c.status),
    ['revoked'],
  );

  const response = await page.goto(`${h.writ.publicUrl}/oauth2/connections`);
  assert.match(response?.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
  assert.equal(response?.headers()['x-frame-options'], 'DENY');
});
