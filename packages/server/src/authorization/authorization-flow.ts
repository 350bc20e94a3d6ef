/**
 * The authorization endpoint and what follows it in the browser: `GET /oauth2/authorize` (authorization code with
 * PKCE S256 only, RFC 8707 `resource` required and registered), sign-in at the organisation's identity provider
 * (`/oauth2/callback`), and consent (`/oauth2/consent`). Approving creates the task — the user's, with the client
 * as its agent and exactly the consented details — and a code (single use, ≤ 60 s) that stands for it.
 *
 * Until the client and its redirect URI are known to match, errors are shown to the person and never redirected
 * (no open redirect); after, they go back to the client with `state` and RFC 9207 `iss`, as every answer does.
 */
import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PATHS, type TaskAuthorizationDetail } from '@writ/protocol';
import { AuthorizationError, OAuthError } from '../errors/index.js';
import type { AuditPort } from '../audit/index.js';
import type { VerifiedUser } from '../identity/index.js';
import type { Resource } from '../register/index.js';
import type { Database, OAuthRequestRow } from '../storage/index.js';
import { createTask, evaluateIssuancePolicy, resolveResource, type IssuancePolicy } from '../token/index.js';
import { CONNECT_REQUEST_PREFIX, CONNECTIONS_PATH } from './connected-accounts.js';
import { APPROVAL_REQUEST_PREFIX } from './approval-pages.js';
import { constantTimeEqual, digestOf, isPkceChallenge, newBearerSecret } from './bearer-secrets.js';
import { ClientProblem, type ClientRegistry, type OAuthClient } from './clients.js';
import { consentChoices, type ConsentChoice, type ToolLister } from './consent-choices.js';
import type { Consents } from './consents.js';
import { LoginProblem, signInRedirect, type IdentityProviderLogin, type SignedInUser } from './identity-provider-login.js';
import { consentPage, errorPage, type Page } from './pages.js';
import { matchRedirectUri } from './redirect-uris.js';
import type { Session, Sessions } from './sessions.js';
import type { AuthorizationSettings } from './settings.js';
import { userClaimsOf } from './user-claims.js';

/** An authorization request waits this long for sign-in and consent. */
const REQUEST_WINDOW_MS = 10 * 60_000;

export type Outcome = { redirect: string; setCookie?: string | string[] } | Page;

export interface AuthorizationFlowDeps {
  db: Kysely<Database>;
  issuer: string;
  settings: AuthorizationSettings;
  clients: ClientRegistry;
  login: IdentityProviderLogin;
  sessions: Sessions;
  consents: Consents;
  findResource(id: string): Promise<Resource | undefined>;
  catalogue: ToolLister;
  policy: IssuancePolicy;
  /** Keys the CSRF tokens of consent forms (derived from the KEK: every node accepts every other's). */
  csrfKey: Buffer;
  audit: AuditPort;
  now: () => number;
  /**
   * The operator console's sign-ins (console/), which share this relying party and its callback: a sign-in started
   * with a request id under `CONSOLE_REQUEST_PREFIX` is handed over whole, and opens no consent session.
   */
  console?: ((user: SignedInUser, source: string) => Promise<Outcome>) | undefined;
}

/** The request id of a sign-in the operator console started (console/). */
export const CONSOLE_REQUEST_PREFIX = 'console:';

const SINGLE = ['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope', 'dpop_jkt'];

export class AuthorizationFlow {
  readonly #d: AuthorizationFlowDeps;

  constructor(deps: AuthorizationFlowDeps) {
    this.#d = deps;
  }

  /** `GET /oauth2/authorize`. */
  async authorize(q: URLSearchParams, cookie: string | undefined, source: string): Promise<Outcome> {
    const d = this.#d;
    for (const name of ['client_id', 'redirect_uri']) {
      if (q.getAll(name).length > 1) return this.#refusedPage(`${name} repeated`, undefined, source);
    }
    const clientId = q.get('client_id') ?? '';
    if (clientId === '') return this.#refusedPage('client_id is required', undefined, source);
    let client: OAuthClient;
    try {
      client = await d.clients.resolve(clientId);
    } catch (err) {
      if (!(err instanceof ClientProblem)) throw err;
      return this.#refusedPage(err.description, undefined, source, err.detail, clientId);
    }
    const asked = q.get('redirect_uri') ?? '';
    if (asked === '') return this.#refusedPage('redirect_uri is required', client, source);
    const redirectUri = matchRedirectUri(client.redirectUris, asked);
    if (redirectUri === undefined) {
      return this.#refusedPage('redirect_uri is not registered for this client', client, source, `redirect_uri ${asked.slice(0, 300)}`);
    }
    // From here on, the client hears of every failure at its own redirect URI.
    const state = q.get('state');
    try {
      for (const name of SINGLE) if (q.getAll(name).length > 1) throw new AuthorizationError('invalid_request', `${name} repeated`);
      if (q.get('response_type') !== 'code') {
        throw new AuthorizationError('unsupported_response_type', 'only response_type=code is supported');
      }
      const challenge = q.get('code_challenge') ?? '';
      if (challenge === '') throw new AuthorizationError('invalid_request', 'code_challenge is required (PKCE, S256)');
      if (q.get('code_challenge_method') !== 'S256') throw new AuthorizationError('invalid_request', 'code_challenge_method must be S256');
      if (!isPkceChallenge(challenge)) throw new AuthorizationError('invalid_request', 'code_challenge is malformed');
      const dpopJkt = q.get('dpop_jkt');
      if (dpopJkt !== null && !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt))
        throw new AuthorizationError('invalid_request', 'dpop_jkt is malformed');
      const scope = q.get('scope') ?? '';
      if (scope.length > 1000) throw new AuthorizationError('invalid_scope', 'scope is too long');
      const { resource, uri } = await this.#resource(q.getAll('resource'));
      if (client.agent.status !== 'active') {
        throw new AuthorizationError(
          'unauthorized_client',
          client.agent.status === 'pending' ? 'this client waits for an operator to approve it' : 'this client may not be used',
          { detail: `agent ${client.agent.id} is ${client.agent.status}` },
        );
      }
      if (!d.login.configured)
        throw new AuthorizationError('temporarily_unavailable', 'sign-in is not configured', { detail: 'authorization.login unset' });
      const now = d.now();
      const id = newBearerSecret();
      const row: OAuthRequestRow = {
        id,
        client_id: client.clientId,
        redirect_uri: redirectUri,
        state,
        code_challenge: challenge,
        resource_id: resource.id,
        resource_uri: uri,
        scope,
        dpop_jkt: dpopJkt,
        created_at: now,
        expires_at: now + REQUEST_WINDOW_MS,
      };
      await d.db.insertInto('oauth_requests').values(row).execute();
      const session = await d.sessions.read(cookie);
      if (session !== undefined) return this.#consent(row, client, session);
      return signInRedirect(await d.login.start(id));
    } catch (err) {
      if (err instanceof LoginProblem) {
        return this.#refuse(
          redirectUri,
          state,
          new AuthorizationError('temporarily_unavailable', err.description, { detail: err.detail }),
          client,
          source,
        );
      }
      if (!(err instanceof AuthorizationError)) throw err;
      return this.#refuse(redirectUri, state, err, client, source);
    }
  }

  /** `GET /oauth2/callback`: the identity provider signed the person in (or did not). */
  async callback(currentUrl: URL, source: string, cookie: string | undefined): Promise<Outcome> {
    // The sign-in's binding cookie goes, whatever the outcome.
    const clear = this.#d.login.clearBinding(currentUrl);
    const outcome = await this.#callback(currentUrl, source, cookie);
    if (clear === undefined) return outcome;
    if ('redirect' in outcome) return { ...outcome, setCookie: [...[outcome.setCookie ?? []].flat(), clear] };
    return { ...outcome, headers: { ...outcome.headers, 'set-cookie': clear } };
  }

  async #callback(currentUrl: URL, source: string, cookie: string | undefined): Promise<Outcome> {
    let signedIn;
    try {
      signedIn = await this.#d.login.finish(currentUrl, cookie);
    } catch (err) {
      if (!(err instanceof LoginProblem)) throw err;
      this.#d.audit.record({
        type: 'authorization.denied',
        decision: 'deny',
        reason: 'login_failed',
        detail: err.detail,
        data: { source },
      });
      return errorPage(400, 'Sign-in failed', err.description);
    }
    if (signedIn.requestId.startsWith(CONSOLE_REQUEST_PREFIX)) {
      if (this.#d.console === undefined) return errorPage(404, 'Sign-in failed', 'The operator console is not served here.');
      return this.#d.console(signedIn.user, source);
    }
    const { session, setCookie } = await this.#d.sessions.create(signedIn.user);
    this.#d.audit.record({
      type: 'authorization.signed_in',
      user_id: session.user.userId,
      decision: 'allow',
      reason: 'identity_provider',
      data: { source },
    });
    // A sign-in started by the connected-accounts pages goes back there (connected-accounts.ts).
    if (signedIn.requestId.startsWith(CONNECT_REQUEST_PREFIX)) {
      const secret = signedIn.requestId.slice(CONNECT_REQUEST_PREFIX.length);
      const back = secret === '' ? CONNECTIONS_PATH : `${CONNECTIONS_PATH}/${encodeURIComponent(secret)}/connect`;
      return { redirect: `${this.#d.issuer}${back}`, setCookie };
    }
    // And one started by an approval page goes back to that approval.
    if (signedIn.requestId.startsWith(APPROVAL_REQUEST_PREFIX)) {
      const id = signedIn.requestId.slice(APPROVAL_REQUEST_PREFIX.length);
      return { redirect: `${this.#d.issuer}${PATHS.approvalPagePrefix}${encodeURIComponent(id)}`, setCookie };
    }
    return { redirect: `${this.#d.issuer}/oauth2/consent?request=${encodeURIComponent(signedIn.requestId)}`, setCookie };
  }

  /** `GET /oauth2/consent?request=…`. */
  async consentForm(requestId: string, cookie: string | undefined): Promise<Outcome> {
    const row = await this.#request(requestId);
    if (row === undefined)
      return errorPage(400, 'Request expired', 'This sign-in request has expired or was already answered. Start again from your app.');
    const session = await this.#d.sessions.read(cookie);
    if (session === undefined) return signInRedirect(await this.#d.login.start(row.id));
    let client: OAuthClient;
    try {
      client = await this.#d.clients.resolve(row.client_id);
    } catch (err) {
      if (!(err instanceof ClientProblem)) throw err;
      return errorPage(400, 'Unknown client', err.description);
    }
    return this.#consent(row, client, session);
  }

  /** `POST /oauth2/consent`: the person approved or denied. */
  async decide(form: URLSearchParams, cookie: string | undefined, origin: string | undefined, source: string): Promise<Outcome> {
    const d = this.#d;
    const session = await d.sessions.read(cookie);
    const requestId = form.get('request') ?? '';
    const csrfOk =
      session !== undefined &&
      requestId !== '' &&
      constantTimeEqual(form.get('csrf') ?? '', this.#csrf(session, requestId)) &&
      sameOrigin(origin, d.issuer);
    if (session === undefined || !csrfOk) {
      d.audit.record({
        type: 'authorization.denied',
        decision: 'deny',
        reason: 'csrf',
        ...(session !== undefined ? { user_id: session.user.userId } : {}),
        detail:
          session === undefined ? 'consent posted without a session' : 'consent posted without a valid CSRF token or from another origin',
        data: { source },
      });
      return errorPage(403, 'Not allowed', 'This form could not be verified. Start again from your app.');
    }
    // The request is answered once: taken before anything else is decided.
    const row = await d.db.deleteFrom('oauth_requests').where('id', '=', requestId).returningAll().executeTakeFirst();
    if (row === undefined || row.expires_at <= d.now()) {
      return errorPage(400, 'Request expired', 'This sign-in request has expired or was already answered. Start again from your app.');
    }
    let client: OAuthClient;
    try {
      client = await d.clients.resolve(row.client_id);
    } catch (err) {
      if (!(err instanceof ClientProblem)) throw err;
      return errorPage(400, 'Unknown client', err.description);
    }
    if (form.get('decision') !== 'approve') {
      return this.#refuse(
        row.redirect_uri,
        row.state,
        new AuthorizationError('access_denied', 'the user denied the request'),
        client,
        source,
        session,
      );
    }
    const resource = await d.findResource(row.resource_id);
    if (resource === undefined) {
      return this.#refuse(
        row.redirect_uri,
        row.state,
        new AuthorizationError('invalid_target', 'unknown resource'),
        client,
        source,
        session,
      );
    }
    // What may be chosen is recomputed here: the form says which, never what they are.
    let choices: ConsentChoice[];
    try {
      choices = await this.#choices(row, client, session, resource);
    } catch (err) {
      if (!(err instanceof AuthorizationError)) throw err;
      return this.#refuse(row.redirect_uri, row.state, err, client, source, session);
    }
    const picked = new Set(form.getAll('choice'));
    const chosen = choices.filter((c) => picked.has(c.key));
    if (chosen.length === 0) {
      return this.#refuse(
        row.redirect_uri,
        row.state,
        new AuthorizationError('access_denied', 'nothing was consented to'),
        client,
        source,
        session,
      );
    }
    const duration = this.#duration(Number(form.get('duration')));
    const remember = form.get('remember') === '1' && d.settings.rememberConsentDays > 0;
    return this.#approve(
      row,
      client,
      session,
      resource,
      chosen.flatMap((c) => c.details),
      duration,
      remember ? 'remembered' : 'once',
      source,
    );
  }

  async #consent(row: OAuthRequestRow, client: OAuthClient, session: Session): Promise<Outcome> {
    const d = this.#d;
    const resource = await d.findResource(row.resource_id);
    if (resource === undefined) {
      await d.db.deleteFrom('oauth_requests').where('id', '=', row.id).execute();
      return this.#refuse(
        row.redirect_uri,
        row.state,
        new AuthorizationError('invalid_target', 'unknown resource'),
        client,
        'consent',
        session,
      );
    }
    const remembered = await d.consents.find(session.user.userId, client.clientId, resource.id);
    if (remembered !== undefined) {
      await d.db.deleteFrom('oauth_requests').where('id', '=', row.id).execute();
      return this.#approve(
        row,
        client,
        session,
        resource,
        remembered.authorizationDetails,
        remembered.durationSeconds,
        'reused',
        'consent',
      );
    }
    let choices: ConsentChoice[];
    try {
      choices = await this.#choices(row, client, session, resource);
    } catch (err) {
      if (!(err instanceof AuthorizationError)) throw err;
      await d.db.deleteFrom('oauth_requests').where('id', '=', row.id).execute();
      return this.#refuse(row.redirect_uri, row.state, err, client, 'consent', session);
    }
    if (choices.length === 0) {
      await d.db.deleteFrom('oauth_requests').where('id', '=', row.id).execute();
      return this.#refuse(
        row.redirect_uri,
        row.state,
        new AuthorizationError('access_denied', 'no grant lets this client act for this user at this resource'),
        client,
        'consent',
        session,
      );
    }
    const redirect = new URL(row.redirect_uri);
    const max = d.settings.taskLifetimeSeconds;
    const options = [...new Set([3600, 8 * 3600, 86_400, 7 * 86_400, max].filter((s) => s <= max))].sort((a, b) => a - b);
    const preferred = options.includes(8 * 3600) ? 8 * 3600 : max;
    return consentPage({
      requestId: row.id,
      csrf: this.#csrf(session, row.id),
      client: {
        name: client.name,
        clientId: client.clientId,
        redirectHost: redirect.protocol === 'http:' || redirect.protocol === 'https:' ? redirect.host : redirect.protocol,
        loopbackOnly: client.redirectUris.every((u) => /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(u)),
        metadataDocument: client.source === 'metadata_document',
      },
      user:
        typeof session.user.claims['email'] === 'string' ? `${session.user.claims['email']} (${session.user.userId})` : session.user.userId,
      resource: { id: resource.id, description: resource.description, uri: row.resource_uri },
      choices,
      durations: options.map((s) => ({ seconds: s, label: durationLabel(s), selected: s === preferred })),
      rememberDays: d.settings.rememberConsentDays,
      redirectOrigin: redirect.protocol === 'http:' || redirect.protocol === 'https:' ? redirect.origin : redirect.protocol,
    });
  }

  async #approve(
    row: OAuthRequestRow,
    client: OAuthClient,
    session: Session,
    resource: Resource,
    details: TaskAuthorizationDetail[],
    durationSeconds: number,
    how: 'once' | 'remembered' | 'reused',
    source: string,
  ): Promise<Outcome> {
    const d = this.#d;
    const user = verifiedUser(session);
    // The grants decide again at the moment of approval: consent never widens what they allow.
    let granted: TaskAuthorizationDetail[];
    try {
      granted = (
        await evaluateIssuancePolicy(
          { agent: client.agent, user, resource, resourceUri: row.resource_uri, requested: details, scopes: [], purpose: '', depth: 0 },
          d.policy,
        )
      ).granted;
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      return this.#refuse(
        row.redirect_uri,
        row.state,
        new AuthorizationError('access_denied', 'no grant lets this client act for this user at this resource', {
          detail: err.detail ?? err.description,
        }),
        client,
        source,
        session,
      );
    }
    const now = d.now();
    const taskId = await createTask(
      {
        userId: user.userId,
        agentId: client.agent.id,
        resourceId: resource.id,
        purpose: `consented by the user for ${client.name}`.slice(0, 500),
        authorizationDetails: granted,
        expiresAt: now + durationSeconds * 1000,
      },
      { db: d.db, now: d.now },
    );
    if (how === 'remembered') {
      await d.consents.remember({
        userId: user.userId,
        clientId: client.clientId,
        agentId: client.agent.id,
        resourceId: resource.id,
        authorizationDetails: granted,
        durationSeconds,
      });
    }
    const code = newBearerSecret();
    await d.db
      .insertInto('oauth_codes')
      .values({
        code_hash: digestOf(code),
        client_id: client.clientId,
        redirect_uri: row.redirect_uri,
        code_challenge: row.code_challenge,
        resource_uri: row.resource_uri,
        dpop_jkt: row.dpop_jkt,
        task_id: taskId,
        user_id: user.userId,
        user_claims: JSON.stringify(userClaimsOf(session.user.claims)),
        created_at: now,
        expires_at: now + d.settings.codeLifetimeSeconds * 1000,
        used_at: null,
      })
      .execute();
    d.audit.record({
      type: 'consent.granted',
      task_id: taskId,
      user_id: user.userId,
      agent_id: client.agent.id,
      actor_chain: [user.userId, client.agent.id],
      resource: resource.id,
      decision: 'allow',
      reason: how === 'reused' ? 'remembered_consent' : 'user_consent',
      data: { client_id: client.clientId, granted, duration_seconds: durationSeconds, remembered: how === 'remembered' },
    });
    return { redirect: this.#answer(row.redirect_uri, { code, ...(row.state !== null ? { state: row.state } : {}) }) };
  }

  /** The choices; an upstream that cannot list its tools now is the client's `temporarily_unavailable`, not a 500. */
  async #choices(row: OAuthRequestRow, client: OAuthClient, session: Session, resource: Resource): Promise<ConsentChoice[]> {
    try {
      return await consentChoices(
        { agent: client.agent, user: verifiedUser(session), resource, resourceUri: row.resource_uri, scope: row.scope },
        { catalogue: this.#d.catalogue, policy: this.#d.policy },
      );
    } catch (err) {
      if (err instanceof OAuthError) throw err;
      throw new AuthorizationError('temporarily_unavailable', 'the resource cannot list what it offers now; try again', {
        detail: `tool listing of ${resource.id} failed: ${(err as Error).message}`,
      });
    }
  }

  async #resource(named: string[]): Promise<{ resource: Resource; uri: string }> {
    if (named.length === 0 || named.every((r) => r === ''))
      throw new AuthorizationError('invalid_target', 'resource (RFC 8707) is required');
    try {
      return await resolveResource({ resource: named, audience: [] }, { publicUrl: this.#d.issuer, findResource: this.#d.findResource });
    } catch (err) {
      if (err instanceof OAuthError)
        throw new AuthorizationError('invalid_target', err.description, { detail: err.detail ?? named.join(' ') });
      throw err;
    }
  }

  async #request(id: string): Promise<OAuthRequestRow | undefined> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const row = await this.#d.db.selectFrom('oauth_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return row !== undefined && row.expires_at > this.#d.now() ? row : undefined;
  }

  #duration(asked: number): number {
    const max = this.#d.settings.taskLifetimeSeconds;
    return Number.isInteger(asked) && asked >= 60 && asked <= max ? asked : Math.min(8 * 3600, max);
  }

  #csrf(session: Session, requestId: string): string {
    return createHmac('sha256', this.#d.csrfKey).update(`${session.idHash}\n${requestId}`).digest('base64url');
  }

  /** The redirect back to the client: its parameters, and always `iss` (RFC 9207). */
  #answer(redirectUri: string, params: Record<string, string>): string {
    const url = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    url.searchParams.set('iss', this.#d.issuer);
    return url.href;
  }

  #refuse(
    redirectUri: string,
    state: string | null,
    err: AuthorizationError,
    client: OAuthClient,
    source: string,
    session?: Session,
  ): Outcome {
    this.#d.audit.record({
      type: 'authorization.denied',
      agent_id: client.agent.id,
      ...(session !== undefined ? { user_id: session.user.userId } : {}),
      decision: 'deny',
      reason: err.error,
      detail: `${err.description}${err.detail !== undefined ? ` (${err.detail})` : ''}`,
      data: { client_id: client.clientId, source },
    });
    return {
      redirect: this.#answer(redirectUri, {
        error: err.error,
        error_description: err.description,
        ...(state !== null ? { state } : {}),
      }),
    };
  }

  #refusedPage(message: string, client: OAuthClient | undefined, source: string, detail?: string, clientId?: string): Page {
    this.#d.audit.record({
      type: 'authorization.denied',
      ...(client !== undefined ? { agent_id: client.agent.id } : {}),
      decision: 'deny',
      reason: 'invalid_request',
      detail: detail !== undefined ? `${message} (${detail})` : message,
      data: { client_id: (client?.clientId ?? clientId ?? '').slice(0, 300), source },
    });
    return errorPage(400, 'This request cannot be served', `${message}. Nothing was sent back to the app that sent you here.`);
  }
}

function verifiedUser(session: Session): VerifiedUser {
  const i = session.user.userId.indexOf(':');
  return {
    userId: session.user.userId,
    providerId: session.user.userId.slice(0, i),
    sub: session.user.userId.slice(i + 1),
    issuer: typeof session.user.claims['iss'] === 'string' ? session.user.claims['iss'] : '',
    claims: session.user.claims,
  };
}

/** A browser's `Origin` on the form post, when it sends one, must be Writ's own. */
function sameOrigin(origin: string | undefined, issuer: string): boolean {
  return origin === undefined || origin === new URL(issuer).origin;
}

function durationLabel(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? '1 day' : `${seconds / 86_400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  return `${Math.round(seconds / 60)} minutes`;
}
