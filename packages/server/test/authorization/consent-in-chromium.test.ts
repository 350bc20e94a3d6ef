/**
 * The sign-in and consent pages in a real browser (Debian's Chromium, driven by playwright-core — never a browser
 * download): alice signs in at the dev identity provider and, with the keyboard alone, unticks a tool and approves;
 * the focused control is visibly marked; the code she sends back yields a task of exactly the tools left ticked; and
 * the consent page refuses to render inside a frame.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { PATHS } from '@writ/protocol';
import { CHROMIUM, chromiumSkip, tabTo } from '../helpers/chromium.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { startAuthorizationHarness } from '../helpers/authorization-harness.js';

const kind = STORE_KINDS.find((k) => k.name === 'sqlite');
const skip = chromiumSkip();

test('sign-in and consent in Chromium: keyboard only, untick a tool, no framing', { skip, timeout: 120_000 }, async (t) => {
  if (kind === undefined) throw new Error('no sqlite store kind');
  const h = await startAuthorizationHarness(kind, { tools: ['echo', 'get-sum', 'get-env'] });
  // The client's redirect target, and a hostile page that frames Writ's consent page.
  const received: URL[] = [];
  let framed = '';
  const site = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/cb') {
      received.push(url);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>back</title><p id="done">back at the app</p>');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end(`<!doctype html><title>framing</title><iframe id="f" src="${framed}" width="800" height="600"></iframe>`);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(async () => {
    await browser.close();
    site.close();
    await h.close();
  });
  const reg = await fetch(`${h.writ.publicUrl}${PATHS.register}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Browser Host', redirect_uris: [`${siteUrl}/cb`] }),
  });
  const clientId = ((await reg.json()) as { client_id: string }).client_id;
  const verifier = randomBytes(32).toString('base64url');
  const authorize = (state: string): string =>
    `${h.writ.publicUrl}${PATHS.authorize}?${new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: `${siteUrl}/cb`,
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      resource: h.mcpUri('everything'),
    })}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const password = h.alice.password;

  await t.test('sign in and consent with the keyboard alone; untick get-env; the task holds exactly the rest', async () => {
    await page.goto(authorize('s1'));
    // The dev IdP's form: the username field has focus.
    await page.waitForSelector('input[name="username"]');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await page.waitForSelector('form[action="/oauth2/consent"]');
    assert.match((await page.textContent('h1')) ?? '', /Allow Browser Host to act for you\?/);
    assert.match((await page.textContent('main')) ?? '', /unverified name/);
    await tabTo(page, 'input[value="tool:get-env"]', 'the get-env checkbox');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    assert.notEqual(outline, 'none', 'the focused control is visibly marked');
    await page.keyboard.press('Space');
    assert.equal(await page.isChecked('input[value="tool:get-env"]'), false);
    await tabTo(page, 'button[value="approve"]', 'Approve');
    const arrived = page.waitForURL(`${siteUrl}/cb**`).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${(await page.content()).slice(0, 3000)}`);
    });
    await page.keyboard.press('Enter');
    await arrived;
    const back = received.at(-1);
    assert.equal(back?.searchParams.get('state'), 's1');
    assert.equal(back?.searchParams.get('iss'), h.writ.publicUrl);
    const token = await fetch(`${h.writ.publicUrl}${PATHS.token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: back?.searchParams.get('code') ?? '',
        redirect_uri: `${siteUrl}/cb`,
        client_id: clientId,
        code_verifier: verifier,
      }),
    });
    assert.equal(token.status, 200);
    const body = (await token.json()) as { authorization_details: Array<{ tools?: string[] }> };
    assert.deepEqual(body.authorization_details.flatMap((d) => d.tools ?? []).sort(), ['echo', 'get-sum']);
  });

  await t.test('the consent page refuses to render in a frame', async () => {
    framed = authorize('s2');
    // The consent page itself must reach the frame (alice is signed in), so it is the page's own refusal that shows.
    const consentServed = page.waitForResponse((r) => r.url().includes('/oauth2/authorize?') && r.status() === 200);
    await page.goto(`${siteUrl}/framing`);
    const served = await consentServed;
    assert.match(served.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    const frame = await (await page.waitForSelector('#f')).contentFrame();
    assert.ok(frame !== null);
    await frame.waitForLoadState().catch(() => undefined);
    const content = await frame.content().catch(() => '');
    assert.doesNotMatch(content, /name="csrf"/);
    assert.doesNotMatch(content, /Approve/);
  });
});
