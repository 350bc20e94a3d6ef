/**
 * The signing keys of each trusted identity provider: one jose remote JWKS per provider, built once, from the
 * configured `jwks_uri` or from the `jwks_uri` of the provider's OpenID discovery document (fetched once).
 *
 * Fetches are bounded, because the one who chooses when we fetch is whoever sends a token:
 * - an unknown `kid` makes jose refetch the JWKS at most once per `kidRefetchCooldownMs` (a key rotated in at the
 *   provider is picked up; a stream of forged kids costs one fetch per cooldown, not one per token);
 * - a failed discovery or JWKS fetch is remembered for `failureCooldownMs`, so a provider that is down is not
 *   hammered once per incoming token (jose alone would retry on every call until the first success);
 * - every fetch has a timeout, never follows a redirect (a redirect could leave https or loopback) and reads at most
 *   `MAX_DOCUMENT_BYTES`.
 */
import { createRemoteJWKSet, customFetch, type FetchImplementation, type JWTVerifyGetKey } from 'jose';
import { fetchBounded } from '@writ/verify/internal';
import { isAllowedProviderUrl } from './provider-url.js';

/** Where a provider's keys come from (the key-related part of `TrustedProvider`). */
export interface ProviderKeySource {
  id: string;
  issuer: string;
  jwksUri: string | null;
  discovery: boolean;
}

export interface ProviderKeys {
  keysFor(provider: ProviderKeySource): Promise<JWTVerifyGetKey>;
  /** Drop every cached discovery document and key set (the trusted providers changed). */
  clear(): void;
}

export interface ProviderKeysOptions {
  fetch: typeof fetch;
  /** Minimum time between two JWKS refetches caused by an unknown `kid`. Default 30 s. */
  kidRefetchCooldownMs?: number;
  /** How long a fetched JWKS is used before it is refetched anyway. Default 10 min. */
  cacheMaxAgeMs?: number;
  /** How long a failed discovery or JWKS fetch is not retried. Default 10 s. */
  failureCooldownMs?: number;
  /** Per-request timeout. Default 5 s. */
  timeoutMs?: number;
}

/** Discovery documents and key sets are a few KB; 256 KiB leaves room for big key sets and stops a runaway body. */
export const MAX_DOCUMENT_BYTES = 256 * 1024;

interface Entry {
  keys: Promise<JWTVerifyGetKey>;
  /** When building the key set (discovery, URL checks) failed. */
  buildFailedAt: number | undefined;
}

interface FetchState {
  /** When the last JWKS fetch failed; cleared by the next success. */
  failedAt: number | undefined;
}

export function createProviderKeys(opts: ProviderKeysOptions): ProviderKeys {
  const failureCooldownMs = opts.failureCooldownMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const entries = new Map<string, Entry>();

  async function jwksUriOf(p: ProviderKeySource): Promise<string> {
    if (!p.discovery) {
      if (p.jwksUri === null) throw new Error('provider has neither a JWKS URL nor discovery');
      return p.jwksUri;
    }
    // OpenID Connect Discovery 1.0 §4: strip a trailing slash from the issuer, append the well-known path.
    const url = `${p.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetchBounded(url, {
      fetch: opts.fetch,
      timeoutMs,
      maxBytes: MAX_DOCUMENT_BYTES,
      init: { headers: { accept: 'application/json' }, redirect: 'manual' },
    });
    if (res.status !== 200) throw new Error(`discovery failed: HTTP ${res.status}`);
    let meta: unknown;
    try {
      meta = JSON.parse(res.text);
    } catch {
      throw new Error('discovery document is not JSON');
    }
    if (typeof meta !== 'object' || meta === null) throw new Error('discovery document is not a JSON object');
    const { issuer, jwks_uri: jwksUri } = meta as { issuer?: unknown; jwks_uri?: unknown };
    // Discovery §4.3: the document's issuer MUST be identical to the one it was fetched for; otherwise a document
    // could point the trusted issuer at someone else's keys.
    if (issuer !== p.issuer) throw new Error(`discovery issuer ${JSON.stringify(issuer)} is not ${p.issuer}`);
    if (typeof jwksUri !== 'string') throw new Error('discovery document has no jwks_uri');
    return jwksUri;
  }

  async function build(p: ProviderKeySource): Promise<JWTVerifyGetKey> {
    if (!isAllowedProviderUrl(p.issuer)) throw new Error('issuer must be https (http only on loopback)');
    const jwksUri = await jwksUriOf(p);
    if (!isAllowedProviderUrl(jwksUri)) throw new Error(`JWKS URL ${jwksUri} must be https (http only on loopback)`);
    const state: FetchState = { failedAt: undefined };
    const jwksFetch: FetchImplementation = async (url, init) => {
      if (state.failedAt !== undefined && Date.now() - state.failedAt < failureCooldownMs) {
        throw new Error('JWKS fetch failed recently; not retrying yet');
      }
      try {
        // jose's own timeout signal travels in `init`; the bound on time is the smaller of the two.
        const res = await fetchBounded(url, {
          fetch: opts.fetch,
          timeoutMs,
          maxBytes: MAX_DOCUMENT_BYTES,
          init: { ...init, redirect: 'manual' },
        });
        state.failedAt = res.status === 200 ? undefined : Date.now();
        return new Response(res.text, { status: res.status, headers: { 'content-type': 'application/json' } });
      } catch (err) {
        state.failedAt = Date.now();
        throw err;
      }
    };
    return createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: opts.kidRefetchCooldownMs ?? 30_000,
      cacheMaxAge: opts.cacheMaxAgeMs ?? 600_000,
      timeoutDuration: timeoutMs,
      [customFetch]: jwksFetch,
    });
  }

  return {
    clear: () => entries.clear(),
    keysFor(p) {
      // Keyed by everything that decides where keys come from, so an edited provider never uses stale keys even
      // before `clear()` is called.
      const cacheKey = JSON.stringify([p.id, p.issuer, p.jwksUri, p.discovery]);
      const cached = entries.get(cacheKey);
      if (cached !== undefined && (cached.buildFailedAt === undefined || Date.now() - cached.buildFailedAt < failureCooldownMs)) {
        return cached.keys;
      }
      const entry: Entry = { keys: build(p), buildFailedAt: undefined };
      // A failed discovery is kept (and answered from memory) for the cooldown, then rebuilt on the next token.
      entry.keys.catch(() => {
        entry.buildFailedAt = Date.now();
      });
      entries.set(cacheKey, entry);
      return entry.keys;
    },
  };
}
