/**
 * A person, scripted: follows an authorization URL through Writ's authorization server the way a browser would —
 * the dev identity provider's sign-in form, then Writ's consent page — and stops at the client's redirect URI,
 * returning it (with `code`, `state` and `iss`, or an error). What the consent page offered is returned too, so a
 * test can see what the grants allowed. Real browsers are tested with Chromium; this is for the flows around them
 * (the SDK's `auth()`, `mcp-remote`, the conformance suite, `writ dev`).
 */
import { ScriptedBrowser } from '../idp/scripted-browser.js';

export interface ConsentingUser {
  username: string;
  password: string;
}

export interface ConsentOptions {
  /** The client's redirect URI: where the walk ends. */
  redirectUri: string;
  /** Which offered choices (`tool:echo`, `scope:read`) to leave ticked; default all. Return 'deny' to deny. */
  choose?: (offered: string[]) => string[] | 'deny';
  remember?: boolean;
  /** Seconds, one of the page's options; default the page's preselection. */
  duration?: number;
}

export interface ConsentResult {
  /** The redirect to the client. */
  url: URL;
  /** The choices the consent page offered; empty when no page was shown (a remembered consent, or an error). */
  offered: string[];
}

export async function authorizeAs(authorizationUrl: string, user: ConsentingUser, o: ConsentOptions): Promise<ConsentResult> {
  const browser = new ScriptedBrowser(o.redirectUri);
  let page = await browser.get(authorizationUrl);
  let offered: string[] = [];
  for (let step = 0; step < 4; step++) {
    if (browser.isStop(page.url)) return { url: new URL(page.url), offered };
    const login = /<form method="post" action="([^"]*\/interaction\/[^"]*)"/.exec(page.body);
    if (login !== null) {
      page = await browser.submit(new URL(decodeEntities(login[1] as string), page.url).href, {
        username: user.username,
        password: user.password,
      });
      continue;
    }
    if (page.body.includes('name="csrf"')) {
      offered = [...page.body.matchAll(/name="choice" value="([^"]*)"/g)].map((m) => decodeEntities(m[1] as string));
      const picked = o.choose?.(offered) ?? offered;
      const form = new URLSearchParams({
        request: field(page.body, 'request'),
        csrf: field(page.body, 'csrf'),
        decision: picked === 'deny' ? 'deny' : 'approve',
      });
      if (picked !== 'deny') for (const c of picked) form.append('choice', c);
      const selected = /<option value="(\d+)" selected>/.exec(page.body);
      form.set('duration', String(o.duration ?? selected?.[1] ?? ''));
      if (o.remember === true) form.set('remember', '1');
      page = await browser.submitForm(new URL('/oauth2/consent', page.url).href, form);
      continue;
    }
    throw new Error(
      `unexpected page at ${page.url} (${page.status}): ${page.body
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .slice(0, 300)}`,
    );
  }
  throw new Error('the authorization did not reach the redirect URI');
}

function field(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (m === null) throw new Error(`the consent page has no ${name} field`);
  return decodeEntities(m[1] as string);
}

function decodeEntities(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');
}
