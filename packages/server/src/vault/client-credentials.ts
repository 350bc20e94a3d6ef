/**
 * `oauth_client_credentials`: Writ is an OAuth client of the upstream's authorization server and mints the upstream
 * token itself (RFC 6749 §4.4), so nothing long-lived reaches the upstream and nothing at all reaches the agent.
 *
 * - One token per secret version and requested scope/resource/audience, kept in memory only, reused until
 *   `refreshBeforeSeconds` before it expires (or half its lifetime, if that is sooner).
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
import type { SecretEntry } from './vault.js';

/** RFC 6749 §5.1, as much of it as Writ uses; anything else in the answer is ignored. */
const tokenResponse = z.looseObject({
  access_token: z.string().min(1).max(16_384),
  token_type: z.string().min(1),
  expires_in: z.coerce.number().int().positive().optional(),
});

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

export interface ClientCredentialsDeps {
  /** Guarded by the egress rules like every other outbound connection. */
  dispatcher: Dispatcher;
  now: () => number;
  timeoutMs: number;
  /** The authorization server refused or failed: for the audit log (never a token or secret). */
  failed?(secretId: string, detail: string): void;
}

/** A token lifetime assumed when the server does not say (RFC 6749 §5.1 leaves `expires_in` optional). */
const DEFAULT_LIFETIME_S = 300;

export class ClientCredentialsMinter {
  readonly #deps: ClientCredentialsDeps;
  readonly #tokens = new Map<string, MintedToken>();
  readonly #inFlight = new Map<string, Promise<MintedToken>>();

  constructor(deps: ClientCredentialsDeps) {
    this.#deps = deps;
  }

  /** A token for `entry` (a client-credentials secret) and what the resource asks for. */
  token(entry: SecretEntry, ask: MintRequest): Promise<MintedToken> {
    const key = cacheKey(entry, ask);
    const hit = this.#tokens.get(key);
    if (hit !== undefined && hit.refreshAt > this.#deps.now()) return Promise.resolve(hit);
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) return pending;
    const p = this.#mint(entry, ask)
      .then((t) => {
        this.#tokens.set(key, t);
        return t;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }

  /** The upstream refused `token`: it is not handed out again (a newer one already cached is kept). */
  rejected(entry: SecretEntry, ask: MintRequest, token: MintedToken): void {
    const key = cacheKey(entry, ask);
    if (this.#tokens.get(key) === token) this.#tokens.delete(key);
  }

  /** Forget every token minted from `secretId` (the secret changed or went). */
  invalidate(secretId?: string): void {
    for (const key of this.#tokens.keys()) if (secretId === undefined || key.startsWith(`${secretId}\0`)) this.#tokens.delete(key);
  }

  async #mint(entry: SecretEntry, ask: MintRequest): Promise<MintedToken> {
    const config = entry.config as unknown as ClientCredentialsConfig;
    const material = JSON.parse(entry.value.reveal()) as ClientCredentialsMaterial;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    const scope = ask.scope ?? config.scope;
    const resource = ask.resource ?? config.resource;
    const audience = ask.audience ?? config.audience;
    if (scope !== undefined) form.set('scope', scope);
    if (resource !== undefined) form.set('resource', resource);
    if (audience !== undefined) form.set('audience', audience);
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
    const started = this.#deps.now();
    const url = new URL(config.tokenEndpoint);
    let status: number;
    let text: string;
    try {
      const res = await this.#deps.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        body: form.toString(),
        headersTimeout: this.#deps.timeoutMs,
        bodyTimeout: this.#deps.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw this.#failure(entry, `token endpoint unreachable: ${(err as { code?: string }).code ?? String(err)}`);
    }
    if (status !== 200) {
      // The error code only (RFC 6749 §5.2): an error_description may echo what was sent.
      const code = /"error"\s*:\s*"([\x20-\x21\x23-\x5B\x5D-\x7E]{1,100})"/.exec(text)?.[1] ?? 'no error code';
      throw this.#failure(entry, `token endpoint answered ${status} (${code})`);
    }
    let parsed: z.output<typeof tokenResponse>;
    try {
      parsed = tokenResponse.parse(JSON.parse(text));
    } catch {
      throw this.#failure(entry, 'token endpoint answered 200 with something that is not a token response');
    }
    if (parsed.token_type.toLowerCase() !== 'bearer')
      throw this.#failure(entry, `token type ${parsed.token_type.slice(0, 40)} is not Bearer`);
    const lifetimeMs = (parsed.expires_in ?? DEFAULT_LIFETIME_S) * 1000;
    const early = Math.max(Math.min(config.refreshBeforeSeconds * 1000, lifetimeMs / 2), 0);
    return { value: new SecretValue(parsed.access_token), refreshAt: started + lifetimeMs - early };
  }

  #failure(entry: SecretEntry, detail: string): WritError {
    this.#deps.failed?.(entry.id, detail);
    return new WritError('ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE', `secret ${entry.id}: ${detail}`);
  }
}

function cacheKey(entry: SecretEntry, ask: MintRequest): string {
  return `${entry.id}\0${entry.version}\0${ask.scope ?? ''}\0${ask.resource ?? ''}\0${ask.audience ?? ''}`;
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
