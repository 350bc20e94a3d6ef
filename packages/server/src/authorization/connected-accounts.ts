/**
 * Connected accounts, the person's side (`user_oauth` secrets): signed in at the organisation's identity provider as
 * for the authorization server, a person connects their own account at an upstream (Writ is the OAuth client:
 * authorization code + PKCE S256, `state`), sees their connections and disconnects them.
 *
 * Why nobody can link their upstream account to someone else's identity: a connect is started only by the signed-in
 * person themselves — a form post carrying the page's CSRF token, so a link or a cross-site request cannot start one
 * in their browser (where the upstream might already be signed in as someone else) — and is bound to that session,
 * its user and the upstream (`upstream_connect_states`); its callback is
 * accepted only in the same session, for the same user, on that upstream's own callback path, once, within ten
 * minutes. A forged or replayed callback, one carried to another person's browser, or one sent to another upstream's
 * callback is refused and audited.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AuditPort } from '../audit/index.js';
import type { Connections, SecretEntry, SecretSummary, SecretValue } from '../vault/index.js';
import { constantTimeEqual, pkceChallenge } from './bearer-secrets.js';
import { signInRedirect, type IdentityProviderLogin } from './identity-provider-login.js';
import { connectConfirmPage, connectionsPage, errorPage, type Page } from './pages.js';
import { send } from './routes.js';
import type { Session, Sessions } from './sessions.js';

export const CONNECTIONS_PATH = '/oauth2/connections';
/** What a sign-in started for a connect carries as its request id, so the callback comes back here. */
export const CONNECT_REQUEST_PREFIX = 'connect:';

export interface ConnectedAccountsDeps {
  issuer: string;
  sessions: Sessions;
  login: IdentityProviderLogin;
  connections: Connections;
  secrets: {
    entry(id: string): Promise<SecretEntry | undefined>;
    list(): Promise<SecretSummary[]>;
  };
  /** Redeems a connect's code at the upstream (the vault's minter). */
  redeemCode(
    entry: SecretEntry,
    o: { code: string; verifier: string; redirectUri: string },
  ): Promise<{ refreshToken: SecretValue; scope: string | undefined }>;
  /** A connection changed: audited, and in force on every node before the answer (the register's change channel). */
  changed(secretId: string, userId: string, what: 'connection.created' | 'connection.revoked'): Promise<void>;
  /** Revokes a refresh token at the upstream (RFC 7009), best effort. */
  revokeAtUpstream(entry: SecretEntry, refreshToken: SecretValue): Promise<void>;
  csrfKey: Buffer;
  audit: AuditPort;
}

type Outcome = { redirect: string } | Page;

export class ConnectedAccounts {
  readonly #d: ConnectedAccountsDeps;

  constructor(deps: ConnectedAccountsDeps) {
    this.#d = deps;
  }

  callbackUrl(secretId: string): string {
    return `${this.#d.issuer}${CONNECTIONS_PATH}/${encodeURIComponent(secretId)}/callback`;
  }

  /** `GET /oauth2/connections`: the person's connections, and the upstreams they may connect. */
  async overview(cookie: string | undefined): Promise<Outcome> {
    const session = await this.#d.sessions.read(cookie);
    if (session === undefined) return this.#signIn('');
    const mine = await this.#d.connections.list({ userId: session.user.userId });
    const upstreams = (await this.#d.secrets.list()).filter((s) => s.kind === 'user_oauth');
    return connectionsPage({
      user: session.user.userId,
      formAction: [...new Set(upstreams.map((u) => authorizationOrigin(u.config)).filter((o): o is string => o !== undefined))],
      rows: upstreams.map((u) => {
        const c = mine.find((m) => m.secret_id === u.id);
        return {
          id: u.id,
          description: u.description,
          status: c?.status ?? 'not connected',
          since: c?.status === 'active' ? new Date(c.updated_at).toISOString() : undefined,
          connectAction: `${CONNECTIONS_PATH}/${encodeURIComponent(u.id)}/connect`,
          connectCsrf: this.#csrf(session, 'connect', u.id),
          disconnectAction: `${CONNECTIONS_PATH}/${encodeURIComponent(u.id)}/disconnect`,
          disconnectCsrf: this.#csrf(session, 'disconnect', u.id),
        };
      }),
    });
  }

  /**
   * `GET /oauth2/connections/{secret}/connect` (the `connect_url` a refused call names): the person signs in if need
   * be, then is asked to confirm. Nothing starts on a GET.
   */
  async confirm(secretId: string, cookie: string | undefined): Promise<Outcome> {
    const entry = await this.#userOauth(secretId);
    if (entry === undefined) return errorPage(404, 'Unknown upstream', `There is no upstream "${secretId}" to connect.`);
    const session = await this.#d.sessions.read(cookie);
    if (session === undefined) return this.#signIn(secretId);
    const summary = (await this.#d.secrets.list()).find((s) => s.id === secretId);
    return connectConfirmPage({
      user: session.user.userId,
      upstream: secretId,
      description: summary?.description ?? '',
      action: `${CONNECTIONS_PATH}/${encodeURIComponent(secretId)}/connect`,
      csrf: this.#csrf(session, 'connect', secretId),
      formAction: authorizationOrigin(entry.config) ?? "'self'",
    });
  }

  /** `POST /oauth2/connections/{secret}/connect`: to the upstream's authorization endpoint, bound to this session. */
  async connect(secretId: string, form: URLSearchParams, cookie: string | undefined, origin: string | undefined): Promise<Outcome> {
    const entry = await this.#userOauth(secretId);
    if (entry === undefined) return errorPage(404, 'Unknown upstream', `There is no upstream "${secretId}" to connect.`);
    const session = this.#checked(await this.#d.sessions.read(cookie), form, origin, 'connect', secretId);
    if (session === undefined)
      return errorPage(403, 'Not connected', 'This page expired or did not come from Writ. Open your connections page again.');
    const config = entry.config as { authorizationEndpoint: string; clientId: string; scope?: string };
    const { state, verifier } = await this.#d.connections.begin(secretId, session.user.userId, session.idHash);
    const url = new URL(config.authorizationEndpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', config.clientId);
    url.searchParams.set('redirect_uri', this.callbackUrl(secretId));
    if (config.scope !== undefined) url.searchParams.set('scope', config.scope);
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', pkceChallenge(verifier));
    url.searchParams.set('code_challenge_method', 'S256');
    return { redirect: url.href };
  }

  /** `GET /oauth2/connections/{secret}/callback`: the upstream sent the person back. */
  async callback(secretId: string, query: URLSearchParams, cookie: string | undefined, source: string): Promise<Outcome> {
    const refuse = (why: string, userId?: string): Page => {
      this.#d.audit.record({
        type: 'connection.denied',
        decision: 'deny',
        reason: 'connect_refused',
        detail: why,
        data: { secret: secretId, source },
        ...(userId !== undefined ? { user_id: userId } : {}),
      });
      return errorPage(
        400,
        'The account was not connected',
        'This connection could not be completed. Start again from your connections page.',
      );
    };
    const state = query.get('state') ?? '';
    const pending = state === '' ? undefined : await this.#d.connections.take(state);
    if (pending === undefined) return refuse('unknown, used or expired state');
    const session = await this.#d.sessions.read(cookie);
    if (session === undefined || session.idHash !== pending.sessionHash || session.user.userId !== pending.userId)
      return refuse('callback outside the session that started the connect', session?.user.userId);
    if (pending.secretId !== secretId) return refuse(`state of ${pending.secretId} on the callback of another upstream`, pending.userId);
    const error = query.get('error');
    if (error !== null) return refuse(`upstream error ${error.slice(0, 100)}`, pending.userId);
    const code = query.get('code');
    if (code === null || code === '') return refuse('callback without a code', pending.userId);
    const entry = await this.#userOauth(secretId);
    if (entry === undefined) return refuse('the upstream is no longer registered', pending.userId);
    let granted: { refreshToken: SecretValue; scope: string | undefined };
    try {
      granted = await this.#d.redeemCode(entry, { code, verifier: pending.verifier, redirectUri: this.callbackUrl(secretId) });
    } catch (err) {
      return refuse(`code exchange: ${(err as { detail?: string }).detail ?? (err as Error).message}`, pending.userId);
    }
    await this.#d.connections.save(secretId, pending.userId, granted.refreshToken, granted.scope);
    await this.#d.changed(secretId, pending.userId, 'connection.created');
    return { redirect: `${this.#d.issuer}${CONNECTIONS_PATH}` };
  }

  /** `POST /oauth2/connections/{secret}/disconnect`: the person's own connection, with the page's CSRF token. */
  async disconnect(secretId: string, form: URLSearchParams, cookie: string | undefined, origin: string | undefined): Promise<Outcome> {
    const session = this.#checked(await this.#d.sessions.read(cookie), form, origin, 'disconnect', secretId);
    if (session === undefined)
      return errorPage(403, 'Not disconnected', 'This page expired or did not come from Writ. Open your connections page again.');
    const revoked = await this.#d.connections.revoke({ secretId, userId: session.user.userId });
    const entry = await this.#userOauth(secretId);
    if (entry !== undefined) for (const r of revoked) await this.#d.revokeAtUpstream(entry, r.refreshToken).catch(() => undefined);
    if (revoked.length > 0) await this.#d.changed(secretId, session.user.userId, 'connection.revoked');
    return { redirect: `${this.#d.issuer}${CONNECTIONS_PATH}` };
  }

  async #signIn(secretId: string): Promise<Outcome> {
    if (!this.#d.login.configured)
      return errorPage(503, 'Sign-in is not configured', 'Writ has no identity provider to sign people in (authorization.login).');
    return signInRedirect(await this.#d.login.start(`${CONNECT_REQUEST_PREFIX}${secretId}`));
  }

  async #userOauth(secretId: string): Promise<SecretEntry | undefined> {
    const entry = await this.#d.secrets.entry(secretId).catch(() => undefined);
    return entry?.kind === 'user_oauth' ? entry : undefined;
  }

  /** The session, when the form is the person's own: Writ's origin (when the browser says) and the page's CSRF token. */
  #checked(
    session: Session | undefined,
    form: URLSearchParams,
    origin: string | undefined,
    action: 'connect' | 'disconnect',
    secretId: string,
  ): Session | undefined {
    const sameOrigin = origin === undefined || origin === new URL(this.#d.issuer).origin;
    if (session !== undefined && sameOrigin && constantTimeEqual(form.get('csrf') ?? '', this.#csrf(session, action, secretId)))
      return session;
    this.#d.audit.record({
      type: 'connection.denied',
      decision: 'deny',
      reason: 'csrf',
      data: { secret: secretId, action },
      ...(session !== undefined ? { user_id: session.user.userId } : {}),
    });
    return undefined;
  }

  #csrf(session: Session, action: 'connect' | 'disconnect', secretId: string): string {
    return createHmac('sha256', this.#d.csrfKey).update(`${session.idHash}\n${action}\n${secretId}`).digest('base64url');
  }
}

/** The origin of a `user_oauth` secret's authorization endpoint: where its connect form's post is redirected. */
function authorizationOrigin(config: Record<string, unknown> | null): string | undefined {
  const endpoint = config?.['authorizationEndpoint'];
  return typeof endpoint === 'string' && URL.canParse(endpoint) ? new URL(endpoint).origin : undefined;
}

/** The routes, on Fastify beside the authorization server's (the sign-in cookie's path is `/oauth2/`). */
export function registerConnectedAccountRoutes(app: FastifyInstance, flow: ConnectedAccounts): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      done(null, new URLSearchParams(body as string));
    });
    const secretOf = (params: unknown): string => String((params as { secret?: unknown }).secret ?? '');
    const queryOf = (url: string): URLSearchParams => new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    scope.get(CONNECTIONS_PATH, async (req, reply) => send(reply, await flow.overview(req.headers.cookie)));
    scope.get(`${CONNECTIONS_PATH}/:secret/connect`, async (req, reply) =>
      send(reply, await flow.confirm(secretOf(req.params), req.headers.cookie)),
    );
    scope.post(`${CONNECTIONS_PATH}/:secret/connect`, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
      const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
      return send(reply, await flow.connect(secretOf(req.params), form, req.headers.cookie, origin));
    });
    scope.get(`${CONNECTIONS_PATH}/:secret/callback`, async (req, reply) =>
      send(reply, await flow.callback(secretOf(req.params), queryOf(req.url), req.headers.cookie, req.socket.remoteAddress ?? 'unknown')),
    );
    scope.post(`${CONNECTIONS_PATH}/:secret/disconnect`, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
      const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
      return send(reply, await flow.disconnect(secretOf(req.params), form, req.headers.cookie, origin));
    });
  });
}
