/**
 * People sign in at the organisation's identity provider; Writ is its OpenID Connect relying party (`openid-client`:
 * authorization code with PKCE S256, `state`, `nonce`, and the provider's RFC 9207 `iss` checked where it sends
 * one). The provider is one Writ already trusts (the register's identity providers, by id in config), and the user
 * it vouches for gets the id every other path gives them: `<provider id>:<sub>`. Discovery, keys and the code
 * exchange go through the egress-guarded fetch.
 *
 * Each sign-in is bound to the browser that started it: a random cookie goes with the redirect to the provider (only
 * to the callback path, named after the sign-in's `state`, so sign-ins in several tabs do not collide), its digest is
 * stored with the sign-in, and the callback redeems the code only in the browser that holds it. A callback URL taken
 * from someone else's sign-in (login CSRF: a victim made to sign in as the attacker) is refused before the code is
 * redeemed. Every flow that signs people in — consent, approvals, connected accounts, the operator console — shares it.
 */
import * as oidc from 'openid-client';
import type { Kysely } from 'kysely';
import { isLoopbackHost } from '@writ/verify/internal';
import type { Database } from '../storage/index.js';
import { constantTimeEqual, digestOf, newBearerSecret } from './bearer-secrets.js';
import { cookieValue } from './sessions.js';
import type { AuthorizationSettings } from './settings.js';

/** A sign-in at the provider may take this long (typing a password, a second factor). */
const LOGIN_WINDOW_MS = 10 * 60_000;
/** The binding cookie's name: this prefix and the first characters of the digest of the sign-in's `state`. */
const BINDING_COOKIE = 'writ_login_';

export interface SignedInUser {
  userId: string;
  /** The ID token's claims (email, name, groups …): what grants read about the user. */
  claims: Record<string, unknown>;
}

export interface IdentityProviderLoginDeps {
  db: Kysely<Database>;
  settings: Pick<AuthorizationSettings, 'login'>;
  callbackUrl: string;
  /** Plain http only on loopback: anywhere else the binding cookie is `Secure`. */
  secureCookies: boolean;
  findProvider(id: string): Promise<{ id: string; issuer: string } | undefined>;
  fetch: typeof fetch;
  now: () => number;
}

/** Why a sign-in failed: `description` is shown to the person, `detail` audited. */
export class LoginProblem extends Error {
  readonly description: string;
  readonly detail: string;
  constructor(description: string, detail: string) {
    super(`${description} (${detail})`);
    this.name = 'LoginProblem';
    this.description = description;
    this.detail = detail;
  }
}

export class IdentityProviderLogin {
  readonly #d: IdentityProviderLoginDeps;
  #config: { issuer: string; providerId: string; config: Promise<oidc.Configuration> } | undefined;

  constructor(deps: IdentityProviderLoginDeps) {
    this.#d = deps;
  }

  /** Whether sign-in is configured at all. */
  get configured(): boolean {
    const l = this.#d.settings.login;
    return l.provider !== undefined && l.clientId !== undefined;
  }

  /** Forget the discovered provider (its registration changed). */
  invalidate(): void {
    this.#config = undefined;
  }

  /**
   * Starts a sign-in for `requestId`: the URL to send the browser to, and the cookie that binds the sign-in to that
   * browser (send both with the redirect).
   */
  async start(requestId: string): Promise<{ url: URL; setCookie: string }> {
    const { config } = await this.#provider();
    const state = newBearerSecret();
    const nonce = newBearerSecret();
    const binding = newBearerSecret();
    const verifier = oidc.randomPKCECodeVerifier();
    await this.#d.db
      .insertInto('oauth_logins')
      .values({
        state_hash: digestOf(state),
        request_id: requestId,
        code_verifier: verifier,
        nonce,
        browser_hash: digestOf(binding),
        expires_at: this.#d.now() + LOGIN_WINDOW_MS,
      })
      .execute();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.#d.callbackUrl,
      scope: this.#d.settings.login.scope,
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, setCookie: this.#bindingCookie(state, binding, LOGIN_WINDOW_MS / 1000) };
  }

  /** The provider sent the browser back: redeem the code (once), check the ID token; the user and their request. */
  async finish(currentUrl: URL, cookie: string | undefined): Promise<{ requestId: string; user: SignedInUser }> {
    const state = currentUrl.searchParams.get('state');
    if (state === null || state === '') throw new LoginProblem('the sign-in could not be completed', 'callback without state');
    // Single use: the row is gone before the code is redeemed, whatever happens next.
    const row = await this.#d.db.deleteFrom('oauth_logins').where('state_hash', '=', digestOf(state)).returningAll().executeTakeFirst();
    if (row === undefined) throw new LoginProblem('the sign-in could not be completed', 'unknown or used state');
    if (row.expires_at < this.#d.now()) throw new LoginProblem('the sign-in took too long; start again', 'login state expired');
    const binding = cookieValue(cookie, this.#bindingName(state));
    if (row.browser_hash === null || binding === undefined || !constantTimeEqual(digestOf(binding), row.browser_hash))
      throw new LoginProblem(
        'this sign-in was not started in this browser; start again from where you were',
        'login not bound to this browser (no or another binding cookie)',
      );
    const error = currentUrl.searchParams.get('error');
    if (error !== null) throw new LoginProblem('the identity provider did not sign you in', `provider error ${error.slice(0, 100)}`);
    const { config, providerId } = await this.#provider();
    let claims: Record<string, unknown> | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: row.code_verifier,
        expectedState: state,
        expectedNonce: row.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (err) {
      throw new LoginProblem('the sign-in could not be completed', `code exchange: ${(err as Error).message}`);
    }
    const sub = claims?.['sub'];
    if (claims === undefined || typeof sub !== 'string' || sub === '' || sub.length > 255) {
      throw new LoginProblem('the sign-in could not be completed', 'no usable sub in the ID token');
    }
    return { requestId: row.request_id, user: { userId: `${providerId}:${sub}`, claims } };
  }

  /** The `Set-Cookie` that removes a sign-in's binding cookie (the callback sends it, whatever the outcome). */
  clearBinding(currentUrl: URL): string | undefined {
    const state = currentUrl.searchParams.get('state');
    return state === null || state === '' ? undefined : this.#bindingCookie(state, '', 0);
  }

  #bindingName(state: string): string {
    return `${BINDING_COOKIE}${digestOf(state).slice(0, 16)}`;
  }

  #bindingCookie(state: string, value: string, maxAge: number): string {
    const path = new URL(this.#d.callbackUrl).pathname;
    return `${this.#bindingName(state)}=${value}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${this.#d.secureCookies ? '; Secure' : ''}`;
  }

  async #provider(): Promise<{ providerId: string; config: oidc.Configuration }> {
    const l = this.#d.settings.login;
    if (l.provider === undefined || l.clientId === undefined)
      throw new LoginProblem('sign-in is not configured', 'authorization.login unset');
    const provider = await this.#d.findProvider(l.provider);
    if (provider === undefined) throw new LoginProblem('sign-in is not configured', `identity provider ${l.provider} is not registered`);
    if (this.#config?.issuer !== provider.issuer || this.#config.providerId !== provider.id) {
      const issuer = new URL(provider.issuer);
      const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
      const config = oidc.discovery(
        issuer,
        l.clientId,
        { redirect_uris: [this.#d.callbackUrl] },
        l.clientSecret !== undefined ? oidc.ClientSecretPost(l.clientSecret) : oidc.None(),
        { [oidc.customFetch]: this.#d.fetch as oidc.CustomFetch, ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}) },
      );
      this.#config = { issuer: provider.issuer, providerId: provider.id, config };
      // A failed discovery is not remembered: the next sign-in tries again.
      config.catch(() => {
        if (this.#config?.config === config) this.#config = undefined;
      });
    }
    try {
      return { providerId: provider.id, config: await this.#config.config };
    } catch (err) {
      throw new LoginProblem('the identity provider cannot be reached', `discovery: ${(err as Error).message}`);
    }
  }
}

/** The redirect to the identity provider, with the cookie that binds the sign-in to this browser. */
export function signInRedirect(start: { url: URL; setCookie: string }): { redirect: string; setCookie: string } {
  return { redirect: start.url.href, setCookie: start.setCookie };
}
