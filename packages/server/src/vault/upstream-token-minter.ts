/**
 * Upstream tokens Writ mints as an OAuth client of the upstream's authorization server, so nothing long-lived
 * reaches the upstream and nothing at all reaches the agent:
 *
 * - `oauth_client_credentials`: Writ's own token (RFC 6749 §4.4), the same for every call;
 * - `token_exchange`: a token for the user and agent of the call (RFC 8693), for an assertion Writ signs with a key
 *   of its own — `sub` the user, `act.sub` the agent (draft-ietf-oauth-identity-chaining) — so the upstream sees
 *   the person the agent works for, and the agent in the chain;
 * - `user_oauth`: a token from the refresh token of the call's user's connected account (connections.ts), the
 *   rotated refresh token stored before the access token is used.
 *
 * All of them:
 *
 * - One token per secret version, requested scope/resource/audience and (token exchange) user and agent or (connected
 *   accounts) user, kept in memory only, reused until `refreshBeforeSeconds` before it expires (or half its lifetime,
 *   if that is sooner).
 * - One request at a time: every call that finds no fresh token waits for the same token request.
 * - `rejected` (the upstream answered 401 with it) drops that token, once: the next call mints a fresh one, and calls
 *   that still hold the rejected token do not each cause another request.
 *
 * Client authentication: `client_secret_basic` (RFC 6749 §2.3.1, id and secret form-encoded first),
 * `client_secret_post`, or `private_key_jwt` (RFC 7523 §2.2: a short-lived assertion signed with the sealed key, `aud`
 * the token endpoint, a fresh `jti` each time).
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { WritError } from '@writ/protocol';
import { SecretValue } from '../crypto/index.js';
import type { ClientCredentialsConfig, ClientCredentialsMaterial } from './secret-kinds.js';
import type { CallPrincipal } from './upstream-credentials.js';
import type { SecretEntry } from './vault.js';

/** RFC 6749 §5.1, as much of it as Writ uses; anything else in the answer is ignored. */
const tokenResponse = z.looseObject({
  access_token: z.string().min(1).max(16_384),
  token_type: z.string().min(1),
  expires_in: z.coerce.number().int().positive().optional(),
  refresh_token: z.string().min(1).max(16_384).optional(),
  scope: z.string().max(4000).optional(),
});

/** The token endpoint refused (RFC 6749 §5.2): the call fails with ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE. */
export class TokenEndpointRefusal extends WritError {
  readonly oauthError: string | undefined;
  constructor(secretId: string, status: number, oauthError: string | undefined) {
    super(
      'ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE',
      `secret ${secretId}: token endpoint answered ${status} (${oauthError ?? 'no error code'})`,
    );
    this.name = 'TokenEndpointRefusal';
    this.oauthError = oauthError;
  }
}

/** A person's refresh token as the connection store holds it: the value, and the envelope it was read from (for rotation). */
export interface StoredRefreshToken {
  value: SecretValue;
  envelope: string;
}

/** Where `user_oauth` refresh tokens live (connections.ts). */
export interface ConnectionStore {
  /** The active connection's refresh token, or undefined (none, revoked, lapsed). */
  refreshToken(secretId: string, userId: string): Promise<StoredRefreshToken | undefined>;
  /** The upstream rotated the refresh token: store `next` in place of the one read as `was`. */
  rotated(secretId: string, userId: string, was: string, next: SecretValue): Promise<void>;
  /**
   * The upstream refused the refresh token read as `was`: the connection lapses until the person connects again, and
   * true is returned — unless the stored token is no longer `was` (rotated meanwhile), which returns false.
   */
  lapsed(secretId: string, userId: string, was: string): Promise<boolean>;
}

function refreshAt(config: { refreshBeforeSeconds: number }, started: number, expiresIn: number | undefined): number {
  const lifetimeMs = (expiresIn ?? DEFAULT_LIFETIME_S) * 1000;
  const early = Math.max(Math.min(config.refreshBeforeSeconds * 1000, lifetimeMs / 2), 0);
  return started + lifetimeMs - early;
}

/** What a token request may ask for beyond the secret's own settings (the resource's injection rule). */
export interface MintRequest {
  scope?: string | undefined;
  audience?: string | undefined;
  resource?: string | undefined;
}

export interface MintedToken {
  value: SecretValue;
  /** Epoch ms after which it is not handed out again. */
  refreshAt: number;
}

/** Signs the assertion a `token_exchange` secret presents: a dedicated key in Writ's JWKS, never a token key. */
export interface AssertionSigner {
  sign(claims: Record<string, unknown>): string;
}

export interface UpstreamTokenMinterDeps {
  /** Guarded by the egress rules like every other outbound connection. */
  dispatcher: Dispatcher;
  /** Writ's issuer: the `iss` of its assertions. */
  issuer: string;
  assertions: AssertionSigner;
  now: () => number;
  timeoutMs: number;
  /** The authorization server refused or failed: for the audit log (never a token or secret). */
  failed?(secretId: string, detail: string): void;
  /** `user_oauth` secrets: the people's connections. */
  connections?: ConnectionStore;
  /** `user_oauth` secrets: the page where a person connects their account (told to whoever is refused for want of one). */
  connectUrl?(secretId: string): string;
}

const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const MAX_CACHED = 10_000;

/** A token lifetime assumed when the server does not say (RFC 6749 §5.1 leaves `expires_in` optional). */
const DEFAULT_LIFETIME_S = 300;

export class UpstreamTokenMinter {
  readonly #deps: UpstreamTokenMinterDeps;
  readonly #tokens = new Map<string, MintedToken>();
  readonly #inFlight = new Map<string, Promise<MintedToken>>();

  constructor(deps: UpstreamTokenMinterDeps) {
    this.#deps = deps;
  }

  /** A token for `entry` and what the resource asks for; for `token_exchange`, for the call's user and agent. */
  token(entry: SecretEntry, ask: MintRequest, principal: CallPrincipal): Promise<MintedToken> {
    const key = cacheKey(entry, ask, principal);
    const hit = this.#tokens.get(key);
    if (hit !== undefined && hit.refreshAt > this.#deps.now()) return Promise.resolve(hit);
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const p = this.#mint(entry, ask, principal)
      .then((t) => {
        this.#remember(key, t);
        return t;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }

  /** The upstream refused `token`: it is not handed out again (a newer one already cached is kept). */
  rejected(entry: SecretEntry, ask: MintRequest, principal: CallPrincipal, token: MintedToken): void {
    const key = cacheKey(entry, ask, principal);
    if (this.#tokens.get(key) === token) this.#tokens.delete(key);
  }

  /** Forget the tokens minted for `userId` (their connection was revoked): from `secretId`, or from every secret. */
  forgetUser(userId: string, secretId?: string): void {
    for (const key of this.#tokens.keys()) {
      if (key.endsWith(`\0${userId}`) && (secretId === undefined || key.startsWith(`${secretId}\0`))) this.#tokens.delete(key);
    }
  }

  /** Forget every token minted from `secretId` (the secret changed or went). */
  invalidate(secretId?: string): void {
    for (const key of this.#tokens.keys()) if (secretId === undefined || key.startsWith(`${secretId}\0`)) this.#tokens.delete(key);
  }

  /** Tokens per user and agent add up: past this many, the ones due for replacement are dropped. */
  #remember(key: string, t: MintedToken): void {
    if (this.#tokens.size >= MAX_CACHED) {
      const now = this.#deps.now();
      for (const [k, v] of this.#tokens) if (v.refreshAt <= now) this.#tokens.delete(k);
      // Still full of live tokens: the oldest go (a Map iterates in insertion order).
      for (const k of this.#tokens.keys()) {
        if (this.#tokens.size < MAX_CACHED) break;
        this.#tokens.delete(k);
      }
    }
    this.#tokens.set(key, t);
  }

  async #mint(entry: SecretEntry, ask: MintRequest, principal: CallPrincipal, again = false): Promise<MintedToken> {
    const config = entry.config as unknown as ClientCredentialsConfig;
    const form = new URLSearchParams();
    let refresh: StoredRefreshToken | undefined;
    if (entry.kind === 'token_exchange') {
      // Fail closed: a token for nobody in particular is not what this kind is for.
      if (principal.userId === '' || principal.agentId === '')
        throw this.#failure(entry, 'token exchange needs the user and agent of a call; this connection acts for nobody');
      form.set('grant_type', GRANT_TOKEN_EXCHANGE);
      form.set('subject_token', this.#assertion(config, principal));
      form.set('subject_token_type', TOKEN_TYPE_JWT);
      form.set('requested_token_type', TOKEN_TYPE_ACCESS_TOKEN);
    } else if (entry.kind === 'user_oauth') {
      refresh = principal.userId === '' ? undefined : await this.#connections().refreshToken(entry.id, principal.userId);
      if (refresh === undefined) throw this.#notConnected(entry);
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', refresh.value.reveal());
    } else form.set('grant_type', 'client_credentials');
    // A refresh asks for what the connection was granted (RFC 6749 §6): no scope, resource or audience of its own.
    if (entry.kind !== 'user_oauth') {
      const scope = ask.scope ?? config.scope;
      const resource = ask.resource ?? config.resource;
      const audience = ask.audience ?? config.audience;
      if (scope !== undefined) form.set('scope', scope);
      if (resource !== undefined) form.set('resource', resource);
      if (audience !== undefined) form.set('audience', audience);
    }
    const started = this.#deps.now();
    let answer: z.output<typeof tokenResponse>;
    try {
      answer = await this.#tokenRequest(entry, form);
    } catch (err) {
      // The person's grant is gone at the upstream (revoked there, expired): the connection lapses, and they are
      // asked to connect again rather than failing every call.
      if (refresh !== undefined && err instanceof TokenEndpointRefusal && err.oauthError === 'invalid_grant') {
        // Another node may have rotated it a moment ago (and spent the one read here): then try once with theirs.
        if (await this.#connections().lapsed(entry.id, principal.userId, refresh.envelope)) throw this.#notConnected(entry);
        if (!again) return this.#mint(entry, ask, principal, true);
      }
      throw err;
    }
    // Refresh token rotation: the new one is stored before the access token is used; the old one is spent.
    if (refresh !== undefined && answer.refresh_token !== undefined)
      await this.#connections().rotated(entry.id, principal.userId, refresh.envelope, new SecretValue(answer.refresh_token));
    return { value: new SecretValue(answer.access_token), refreshAt: refreshAt(config, started, answer.expires_in) };
  }

  /**
   * `user_oauth`: redeems the code of a person's connect (RFC 6749 §4.1.3, with the PKCE verifier, RFC 7636 §4.5); the
   * refresh token to keep for them, and the scope granted.
   */
  async redeemCode(
    entry: SecretEntry,
    o: { code: string; verifier: string; redirectUri: string },
  ): Promise<{ refreshToken: SecretValue; scope: string | undefined }> {
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code: o.code,
      code_verifier: o.verifier,
      redirect_uri: o.redirectUri,
    });
    const answer = await this.#tokenRequest(entry, form);
    if (answer.refresh_token === undefined)
      throw this.#failure(
        entry,
        'the upstream issued no refresh token (is offline access in the scope, and the refresh_token grant allowed?)',
      );
    return { refreshToken: new SecretValue(answer.refresh_token), scope: answer.scope };
  }

  /**
   * Revokes a person's refresh token at the upstream (RFC 7009) when it has a revocation endpoint: a disconnected
   * account stops working there too, not only in Writ. Best effort: Writ's own revocation does not wait on it.
   */
  async revokeAtUpstream(entry: SecretEntry, refreshToken: SecretValue): Promise<void> {
    const config = entry.config as unknown as ClientCredentialsConfig;
    if (config.revocationEndpoint === undefined) return;
    const form = new URLSearchParams({ token: refreshToken.reveal(), token_type_hint: 'refresh_token' });
    const res = await this.#post(config.revocationEndpoint, await this.#authenticate(entry, form), form);
    await res.body.dump();
    if (res.statusCode !== 200) this.#deps.failed?.(entry.id, `revocation endpoint answered ${res.statusCode}`);
  }

  /** A form POST to one of the upstream authorization server's endpoints, under the egress rules and the timeout. */
  #post(endpoint: string, headers: Record<string, string>, form: URLSearchParams): Promise<Dispatcher.ResponseData> {
    const url = new URL(endpoint);
    return this.#deps.dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers,
      body: form.toString(),
      headersTimeout: this.#deps.timeoutMs,
      bodyTimeout: this.#deps.timeoutMs,
    });
  }

  /** Client authentication as the secret says (RFC 6749 §2.3, RFC 7523): the request headers, the form completed. */
  async #authenticate(entry: SecretEntry, form: URLSearchParams): Promise<Record<string, string>> {
    const config = entry.config as unknown as ClientCredentialsConfig;
    const material = JSON.parse(entry.value.reveal()) as ClientCredentialsMaterial;
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    switch (config.authMethod) {
      case 'client_secret_basic':
        // RFC 6749 §2.3.1: each part form-urlencoded before the Basic encoding.
        headers['authorization'] =
          `Basic ${Buffer.from(`${formEncode(config.clientId)}:${formEncode(material.clientSecret ?? '')}`).toString('base64')}`;
        break;
      case 'client_secret_post':
        form.set('client_id', config.clientId);
        form.set('client_secret', material.clientSecret ?? '');
        break;
      case 'private_key_jwt':
        form.set('client_id', config.clientId);
        form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
        form.set('client_assertion', await assertion(config, material, this.#deps.now()));
        break;
    }
    return headers;
  }

  /** One request to the secret's token endpoint, authenticated as its client; the parsed token response. */
  async #tokenRequest(entry: SecretEntry, form: URLSearchParams): Promise<z.output<typeof tokenResponse>> {
    const config = entry.config as unknown as ClientCredentialsConfig;
    const headers = await this.#authenticate(entry, form);
    let status: number;
    let text: string;
    try {
      const res = await this.#post(config.tokenEndpoint, headers, form);
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw this.#failure(entry, `token endpoint unreachable: ${(err as { code?: string }).code ?? String(err)}`);
    }
    if (status !== 200) {
      // The error code only (RFC 6749 §5.2): an error_description may echo what was sent.
      const code = /"error"\s*:\s*"([\x20-\x21\x23-\x5B\x5D-\x7E]{1,100})"/.exec(text)?.[1];
      this.#deps.failed?.(entry.id, `token endpoint answered ${status} (${code ?? 'no error code'})`);
      throw new TokenEndpointRefusal(entry.id, status, code);
    }
    let parsed: z.output<typeof tokenResponse>;
    try {
      parsed = tokenResponse.parse(JSON.parse(text));
    } catch {
      throw this.#failure(entry, 'token endpoint answered 200 with something that is not a token response');
    }
    if (parsed.token_type.toLowerCase() !== 'bearer')
      throw this.#failure(entry, `token type ${parsed.token_type.slice(0, 40)} is not Bearer`);
    return parsed;
  }

  #connections(): ConnectionStore {
    if (this.#deps.connections === undefined) throw new TypeError('user_oauth secrets need a connection store');
    return this.#deps.connections;
  }

  #notConnected(entry: SecretEntry): WritError {
    const url = this.#deps.connectUrl?.(entry.id);
    return new WritError(
      'ERR_UPSTREAM_ACCOUNT_NOT_CONNECTED',
      `secret ${entry.id}: no active connection for this user`,
      url !== undefined ? { connect_url: url } : undefined,
    );
  }

  /**
   * The subject token of a token exchange: who the call is for (`sub`), which agent acts (`act.sub`, RFC 8693 §4.1),
   * for whom it is meant (`aud`: the upstream's authorization server), good for one minute.
   */
  #assertion(config: { tokenEndpoint: string; assertionAudience?: string | undefined }, principal: CallPrincipal): string {
    const iat = Math.floor(this.#deps.now() / 1000);
    return this.#deps.assertions.sign({
      iss: this.#deps.issuer,
      sub: principal.userId,
      aud: config.assertionAudience ?? config.tokenEndpoint,
      act: { sub: principal.agentId },
      task_id: principal.taskId,
      iat,
      exp: iat + 60,
      jti: randomUUID(),
    });
  }

  #failure(entry: SecretEntry, detail: string): WritError {
    this.#deps.failed?.(entry.id, detail);
    return new WritError('ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE', `secret ${entry.id}: ${detail}`);
  }
}

function cacheKey(entry: SecretEntry, ask: MintRequest, principal: CallPrincipal): string {
  const who =
    entry.kind === 'token_exchange' ? `${principal.userId}\0${principal.agentId}` : entry.kind === 'user_oauth' ? principal.userId : '';
  return `${entry.id}\0${entry.version}\0${ask.scope ?? ''}\0${ask.resource ?? ''}\0${ask.audience ?? ''}\0${who}`;
}

/** application/x-www-form-urlencoded for one value (RFC 6749 Appendix B): spaces as `+`. */
function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}

async function assertion(config: ClientCredentialsConfig, material: ClientCredentialsMaterial, now: number): Promise<string> {
  const jwk = (material.privateKeyJwk ?? {}) as JWK;
  const alg = jwk.kty === 'RSA' ? 'RS256' : 'ES256';
  const key = await importJWK(jwk, alg);
  const iat = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, typ: 'JWT', ...(jwk.kid !== undefined ? { kid: jwk.kid } : {}) })
    .setIssuer(config.clientId)
    .setSubject(config.clientId)
    .setAudience(config.tokenEndpoint)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .sign(key);
}
