/**
 * A person connecting their upstream account through Writ's connected-accounts pages, as a browser does it: sign in
 * at the organisation's provider (the harness's dev identity provider), then at the upstream (its own sign-in page).
 */
import assert from 'node:assert/strict';
import { ScriptedBrowser } from '@writ/dev';

export interface Page {
  url: string;
  status: number;
  body: string;
}

/** A stop URL nothing serves: the walk follows every redirect to the last page. */
export const NOWHERE = 'http://127.0.0.1:1/never';

/** Submits the sign-in form on `page` (either provider's: both are plain username + password forms). */
export async function signIn(browser: ScriptedBrowser, page: Page, username: string, password: string): Promise<Page> {
  const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(action !== undefined, `a sign-in form at ${page.url}: ${page.body.slice(0, 300)}`);
  return browser.submit(new URL(action.replaceAll('&amp;', '&'), page.url).toString(), { username, password });
}

/** Presses the one button of a Writ page's form (Connect, Disconnect), with the page's CSRF token. */
export async function pressButton(browser: ScriptedBrowser, page: Page, action: RegExp): Promise<Page> {
  const form = /<form method="post" action="([^"]+)"><input type="hidden" name="csrf" value="([^"]+)">/g;
  for (const m of page.body.matchAll(form)) {
    const target = (m[1] ?? '').replaceAll('&amp;', '&');
    if (action.test(target)) return browser.submit(new URL(target, page.url).toString(), { csrf: m[2] ?? '' });
  }
  throw new Error(`no form posting to ${String(action)} at ${page.url}: ${page.body.slice(0, 300)}`);
}

/**
 * The whole connect: from `connectUrl` (the confirmation page), signed in as `person` at the organisation, Connect
 * pressed, signed in as `upstream` at the upstream.
 */
export async function connectAccount(
  connectUrl: string,
  person: { username: string; password: string },
  upstream: { username: string; password: string },
  browser = new ScriptedBrowser(NOWHERE),
): Promise<Page> {
  const confirm = await signIn(browser, await browser.get(connectUrl), person.username, person.password);
  const upstreamLogin = await pressButton(browser, confirm, /\/connect$/);
  return signIn(browser, upstreamLogin, upstream.username, upstream.password);
}
