/**
 * The approval page: where a person sees a call an `@approval` grant held back — the resource, the action and
 * target, the arguments exactly as sent, the task, its purpose and its chain of agents — and approves or denies it.
 * Signed in at the organisation's identity provider, as for consent. Only someone the grant names may decide (the
 * user the task acts for, the agent's owner, a member of a named group — the `groups` claim of their sign-in); anyone
 * else is refused, and the refusal audited. A decision is a form post with the page's CSRF token, from Writ's origin.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PATHS } from '@writ/protocol';
import { ApprovalError, type Approvals, type ApprovalView } from '../approvals/index.js';
import { constantTimeEqual } from './bearer-secrets.js';
import { signInRedirect, type IdentityProviderLogin } from './identity-provider-login.js';
import { errorPage, escapeHtml, page, type Page } from './pages.js';
import { send } from './routes.js';
import type { Session, Sessions } from './sessions.js';

/** What a sign-in started for an approval carries as its request id, so the callback comes back here. */
export const APPROVAL_REQUEST_PREFIX = 'approval:';

export interface ApprovalPagesDeps {
  issuer: string;
  sessions: Sessions;
  login: IdentityProviderLogin;
  approvals: Approvals;
  csrfKey: Buffer;
}

type Outcome = { redirect: string } | Page;

export class ApprovalPages {
  readonly #d: ApprovalPagesDeps;

  constructor(deps: ApprovalPagesDeps) {
    this.#d = deps;
  }

  /** `GET /oauth2/approvals/{id}`: the call and, for someone who may decide a pending one, the two buttons. */
  async show(id: string, cookie: string | undefined): Promise<Outcome> {
    const approval = await this.#d.approvals.get(id);
    if (approval === undefined) return errorPage(404, 'Unknown approval', 'There is no such approval. It may have been mistyped.');
    const session = await this.#d.sessions.read(cookie);
    if (session === undefined) {
      if (!this.#d.login.configured)
        return errorPage(503, 'Sign-in is not configured', 'Writ has no identity provider to sign people in (authorization.login).');
      return signInRedirect(await this.#d.login.start(`${APPROVAL_REQUEST_PREFIX}${id}`));
    }
    const may = await this.#d.approvals.mayDecide(approval, decider(session));
    if (!may) this.#d.approvals.refusedViewer(approval, decider(session));
    if (!may)
      return errorPage(
        403,
        'Not yours to decide',
        `This call waits for ${approval.approvers.join(', ')}. You are signed in as ${session.user.userId}.`,
      );
    return approvalPage(approval, session.user.userId, approval.status === 'pending' ? this.#csrf(session, id) : undefined);
  }

  /** `POST /oauth2/approvals/{id}`: `decision` = approve | deny, with the page's CSRF token. */
  async decide(id: string, form: URLSearchParams, cookie: string | undefined, origin: string | undefined): Promise<Outcome> {
    const session = await this.#d.sessions.read(cookie);
    const sameOrigin = origin === undefined || origin === new URL(this.#d.issuer).origin;
    if (session === undefined || !sameOrigin || !constantTimeEqual(form.get('csrf') ?? '', this.#csrf(session, id)))
      return errorPage(403, 'Not decided', 'This page expired or did not come from Writ. Open the approval again.');
    const choice = form.get('decision');
    if (choice !== 'approve' && choice !== 'deny') return errorPage(400, 'Not decided', 'Choose approve or deny.');
    const reason = (form.get('reason') ?? '').trim().slice(0, 500);
    try {
      await this.#d.approvals.decide(id, {
        approve: choice === 'approve',
        who: decider(session),
        reason: reason === '' ? (choice === 'approve' ? 'approved on the approval page' : 'denied on the approval page') : reason,
      });
    } catch (err) {
      if (!(err instanceof ApprovalError)) throw err;
      if (err.code === 'forbidden') return errorPage(403, 'Not yours to decide', 'You may not decide this approval.');
      if (err.code === 'not_found') return errorPage(404, 'Unknown approval', 'There is no such approval.');
      if (err.code === 'unreadable')
        return errorPage(
          409,
          'Cannot be approved',
          'Writ cannot read this call’s arguments, so it cannot be approved. It may still be denied.',
        );
      return errorPage(409, 'Already decided', 'This approval was decided already, or has expired.');
    }
    return { redirect: `${this.#d.issuer}${PATHS.approvalPagePrefix}${id}` };
  }

  #csrf(session: Session, id: string): string {
    return createHmac('sha256', this.#d.csrfKey).update(`${session.idHash}\napproval\n${id}`).digest('base64url');
  }
}

/** The signed-in person as an approver: their Writ user id and the groups their identity provider says they are in. */
function decider(session: Session): { kind: 'person'; userId: string; groups: string[] } {
  const groups = session.user.claims['groups'];
  return {
    kind: 'person',
    userId: session.user.userId,
    groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
  };
}

function approvalPage(a: ApprovalView, signedIn: string, csrf: string | undefined): Page {
  const c = a.call;
  const row = (label: string, value: string): string => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`;
  const args = JSON.stringify(c.arguments, null, 2) ?? 'null';
  const decided =
    a.status === 'pending'
      ? ''
      : `<p class="warn">This call is <strong>${escapeHtml(a.status)}</strong>${a.decidedBy !== null ? ` (by ${escapeHtml(a.decidedBy)})` : ''}.</p>`;
  const form =
    csrf === undefined
      ? ''
      : `<form method="post" action="${escapeHtml(`${PATHS.approvalPagePrefix}${a.id}`)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<label for="reason">Reason (for the audit log)</label><input id="reason" name="reason" maxlength="500">
<p>${
          a.argumentsUnreadable === true
            ? ''
            : '<button type="submit" name="decision" value="approve" class="primary">Approve this call once</button>'
        }<button type="submit" name="decision" value="deny">Deny</button></p>
</form>`;
  return page(
    'Approve a call',
    `<h1>An agent asks to make this call</h1>${decided}<dl>${row('Resource', c.resourceId)}${row('Action', c.action)}${row(
      'Target',
      c.target,
    )}${row('For', c.userId)}${row('Agents', c.actorChain.slice(1).join(' → '))}${row('Task', c.taskId)}${row(
      'Purpose',
      c.purpose,
    )}${row('Chain', c.taskChain.join(' → '))}${row('Expires', new Date(a.expiresAt).toISOString())}</dl>
${
  a.argumentsUnreadable === true
    ? '<p class="warn"><strong>The arguments cannot be read</strong> with the keys Writ holds (a key-encryption key was removed, or the record was altered). Nobody can approve a call they cannot see; you may deny it.</p>'
    : `<p><strong>Arguments, exactly as sent</strong></p><pre>${escapeHtml(args)}</pre>`
}
<p class="muted">Approving lets exactly this call through once: the same action with other arguments, or in another task, needs an approval of its own. Signed in as ${escapeHtml(signedIn)}.</p>${form}`,
  );
}

/** The routes, on Fastify beside the authorization server's (the sign-in cookie's path is `/oauth2/`). */
export function registerApprovalPageRoutes(app: FastifyInstance, pages: ApprovalPages): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      done(null, new URLSearchParams(body as string));
    });
    const idOf = (params: unknown): string => String((params as { id?: unknown }).id ?? '');
    scope.get(`${PATHS.approvalPagePrefix}:id`, async (req, reply) => send(reply, await pages.show(idOf(req.params), req.headers.cookie)));
    scope.post(`${PATHS.approvalPagePrefix}:id`, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
      const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
      return send(reply, await pages.decide(idOf(req.params), form, req.headers.cookie, origin));
    });
  });
}
