/**
 * The authorization server's pages, rendered on the server: no script, no framework, no asset from anywhere (the one
 * style sheet is inline under a per-response nonce), plain form controls a keyboard reaches in order. Every value is
 * escaped. Each page is sent with a CSP that allows nothing else (`default-src 'none'`), may not be framed
 * (`frame-ancestors 'none'`, `X-Frame-Options: DENY`), and is never cached.
 */
import { randomBytes } from 'node:crypto';
import type { ConsentChoice } from './consent-choices.js';

export interface Page {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1f24}
main{max-width:40rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}
h1{font-size:1.35rem;margin:0 0 1rem}
.muted{color:#57606a;font-size:.9rem}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .75rem;border-radius:6px}
.unverified{background:#ffebe9;color:#82071e;border-radius:4px;padding:0 .35rem;font-size:.8rem;font-weight:600}
fieldset{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
legend{font-weight:600;padding:0 .25rem}
label{display:block;margin:.35rem 0}
.choice small{display:block;margin-left:1.7rem;color:#57606a}
button{font:inherit;padding:.45rem 1.1rem;border-radius:6px;border:1px solid #1b1f24;margin-right:.5rem;cursor:pointer}
button.primary{background:#1f6feb;color:#fff;border-color:#1f6feb}
:focus-visible{outline:3px solid #bf8700;outline-offset:2px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1rem}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
`;

export function page(title: string, content: string, opts: { status?: number; formAction?: string[] } = {}): Page {
  const nonce = randomBytes(16).toString('base64');
  const formAction = ["'self'", ...(opts.formAction ?? [])].join(' ');
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>${escapeHtml(title)} · Writ</title><style nonce="${nonce}">${STYLE}</style></head>
<body><main>${content}</main></body></html>`;
  return {
    status: opts.status ?? 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'none'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      // Not `no-referrer`: under it browsers send `Origin: null` with the consent form, which the origin check refuses.
      'referrer-policy': 'same-origin',
      'cross-origin-opener-policy': 'same-origin',
    },
    body,
  };
}

/** An error the person must read (nothing is sent back to the client: its redirect URI is not trusted yet). */
export function errorPage(status: number, title: string, message: string): Page {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p class="muted">You can close this window.</p>`, {
    status,
  });
}

export interface ConsentView {
  requestId: string;
  csrf: string;
  client: { name: string; clientId: string; redirectHost: string; loopbackOnly: boolean; metadataDocument: boolean };
  user: string;
  resource: { id: string; description: string; uri: string };
  choices: ConsentChoice[];
  durations: Array<{ seconds: number; label: string; selected: boolean }>;
  rememberDays: number;
  /** Where the form's answer is redirected to (CSP `form-action` must allow it). */
  redirectOrigin: string;
}

export function consentPage(v: ConsentView): Page {
  const choices = v.choices
    .map(
      (c, i) =>
        `<label class="choice"><input type="checkbox" name="choice" value="${escapeHtml(c.key)}" checked id="c${i}"> <code>${escapeHtml(c.label)}</code>${
          c.description !== '' ? `<small>${escapeHtml(c.description)}</small>` : ''
        }</label>`,
    )
    .join('\n');
  const durations = v.durations
    .map((d) => `<option value="${d.seconds}"${d.selected ? ' selected' : ''}>${escapeHtml(d.label)}</option>`)
    .join('');
  const content = `<h1>Allow <span id="client-name">${escapeHtml(v.client.name)}</span> to act for you?</h1>
<p><span class="unverified" title="The client chose this name itself; Writ has not verified it.">unverified name</span>
<span class="muted">the client named itself; check that you started this from an app you trust.</span></p>
<dl>
<dt>Client</dt><dd><code>${escapeHtml(v.client.clientId)}</code>${v.client.metadataDocument ? ' <span class="muted">(metadata document)</span>' : ''}</dd>
<dt>Returns you to</dt><dd><code>${escapeHtml(v.client.redirectHost)}</code></dd>
<dt>Signed in as</dt><dd>${escapeHtml(v.user)}</dd>
<dt>Resource</dt><dd><strong>${escapeHtml(v.resource.id)}</strong>${v.resource.description !== '' ? ` — ${escapeHtml(v.resource.description)}` : ''}<br><code>${escapeHtml(v.resource.uri)}</code></dd>
</dl>
${v.client.loopbackOnly ? '<p class="warn">This client only returns to this computer (a local app). Approve only if you just started it yourself.</p>' : ''}
<form method="post" action="/oauth2/consent">
<input type="hidden" name="request" value="${escapeHtml(v.requestId)}">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<fieldset><legend>It may use only what you leave ticked</legend>
${choices}
</fieldset>
<p><label for="duration">For how long</label> <select id="duration" name="duration">${durations}</select></p>
${v.rememberDays > 0 ? `<p><label><input type="checkbox" name="remember" value="1"> Remember this for ${v.rememberDays} days for this client and resource (withdraw it any time)</label></p>` : ''}
<p><button type="submit" name="decision" value="approve" class="primary">Approve</button><button type="submit" name="decision" value="deny">Deny</button></p>
</form>
<p class="muted">Every call it makes is checked and recorded by Writ; you or an operator can stop it at any time.</p>`;
  return page('Consent', content, { formAction: [v.redirectOrigin] });
}

export interface ConnectionsView {
  user: string;
  /** Origins a Connect button's post is redirected to (the upstreams' authorization endpoints): CSP `form-action`. */
  formAction: string[];
  rows: Array<{
    id: string;
    description: string;
    status: string;
    since: string | undefined;
    connectAction: string;
    connectCsrf: string;
    disconnectAction: string;
    disconnectCsrf: string;
  }>;
}

/** A POST form of one button, with the page's CSRF token. */
function actionForm(action: string, csrf: string, label: string): string {
  return `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><button type="submit">${escapeHtml(label)}</button></form>`;
}

/** A person's connected accounts: each upstream, its state, and the one action that fits it. */
export function connectionsPage(v: ConnectionsView): Page {
  const rows = v.rows
    .map((r) => {
      const action =
        r.status === 'active'
          ? actionForm(r.disconnectAction, r.disconnectCsrf, 'Disconnect')
          : actionForm(r.connectAction, r.connectCsrf, r.status === 'not connected' ? 'Connect' : 'Connect again');
      return `<dt>${escapeHtml(r.id)}</dt><dd>${escapeHtml(r.description)}<br><span class="muted">${escapeHtml(r.status)}${
        r.since !== undefined ? ` since ${escapeHtml(r.since)}` : ''
      }</span>${action}</dd>`;
    })
    .join('');
  return page(
    'Connected accounts',
    `<h1>Connected accounts</h1><p>Signed in as <strong>${escapeHtml(v.user)}</strong>. Agents working for you reach these upstreams with your own account there; they never see its credentials.</p>${
      rows === '' ? '<p class="muted">No upstream asks for a connected account.</p>' : `<dl>${rows}</dl>`
    }`,
    { formAction: v.formAction },
  );
}

/** Before anything starts: the person confirms that they connect their own account at this upstream. */
export function connectConfirmPage(v: {
  user: string;
  upstream: string;
  description: string;
  action: string;
  csrf: string;
  /** The upstream's authorization endpoint's origin, where the post is redirected (CSP `form-action`). */
  formAction: string;
}): Page {
  return page(
    'Connect an account',
    `<h1>Connect your account at ${escapeHtml(v.upstream)}?</h1><p>${escapeHtml(v.description)}</p><p>Signed in as <strong>${escapeHtml(
      v.user,
    )}</strong>. You will sign in at the upstream; agents working for you will then reach it with your account there, and never see its credentials.</p>${actionForm(
      v.action,
      v.csrf,
      'Connect',
    )}`,
    { formAction: [v.formAction] },
  );
}
