/**
 * The dev provider's interaction pages (oidc-provider leaves login and consent to the host application): a plain
 * username + password form, and consent granted automatically — only for the dev clients (the demo's and Writ's own).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { InteractionDetails } from 'oidc-provider';

export interface InteractionAccount {
  username: string;
  password: string;
}

export const INTERACTION_PATH = '/interaction/';

export async function handleInteraction(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  accounts: ReadonlyMap<string, InteractionAccount>,
  ownClients: readonly string[],
): Promise<void> {
  let details: InteractionDetails;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    // No interaction cookie, or it expired: start over from the client.
    sendHtml(res, 400, page('<p role="alert">This sign-in has expired or is unknown. Start again from the application.</p>'));
    return;
  }
  if (details.prompt.name === 'consent') {
    // Auto-consent: the demo client and Writ's sign-in client belong to the dev setup itself; asking a developer to
    // click "allow" for them on every `writ dev` run would teach nothing (Writ asks its own consent for MCP clients).
    const clientId = String(details.params.client_id);
    if (!ownClients.includes(clientId)) throw new Error('consent is automatic only for the dev clients');
    const accountId = details.session?.accountId;
    if (accountId === undefined) throw new Error('consent without a signed-in account');
    const existing = details.grantId !== undefined ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId, clientId });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '));
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const account = accounts.get(form.get('username') ?? '');
    if (account === undefined || !samePassword(form.get('password') ?? '', account.password)) {
      sendHtml(res, 401, loginPage(details.uid, 'Wrong username or password.'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account.username } }, { mergeWithLastSubmission: false });
    return;
  }
  sendHtml(res, 200, loginPage(details.uid));
}

/** Compares digests so the comparison time does not depend on where the strings differ, nor on their lengths. */
function samePassword(given: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function loginPage(uid: string, error?: string): string {
  return page(`${error !== undefined ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${INTERACTION_PATH}${encodeURIComponent(uid)}">
<p><label>Username <input name="username" autocomplete="username" autofocus required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button>Sign in</button></p>
</form>`);
}

function page(body: string): string {
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>Writ dev sign-in</title>
<h1>Writ dev identity provider</h1>
<p>Development only. The accounts and passwords were printed by <code>writ dev</code>.</p>
${body}</html>`;
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No scripts, nothing may frame the form. (No form-action: browsers apply it to the redirect back to the client.)
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  });
  res.end(html);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 16 * 1024) req.destroy(new Error('login form too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
