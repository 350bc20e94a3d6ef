/**
 * Writ's verifier for services: the gateway's per-call check (`checkCall`, exactly) against Writ's live state — its
 * JWKS, fetched and refreshed (`RemoteJwks`), and its revocation log, followed over the SSE feed
 * (`RevocationFeed`) — with a bounded DPoP replay cache and verified-token cache of its own. It fails closed: until
 * the first key set is loaded and the feed's first catch-up is done, and whenever the feed has not been current for
 * longer than `maxStalenessMs`, every call is refused with `ERR_NOT_READY` (503).
 */
import { PATHS, WritError } from '@writ/protocol';
import { checkCall, type VerifiedCall } from '../check/check-call.js';
import { InMemoryReplayCache } from '../dpop/replay-cache.js';
import { RevocationSet } from '../revocation/revocation-set.js';
import { VerifiedTokenCache } from '../token/verified-token-cache.js';
import { asWritError } from './denial-response.js';
import { RemoteJwks } from './remote-jwks.js';
import { RevocationFeed } from './revocation-feed.js';
import { headerValues, type RawHeaders } from '../http/header-values.js';
import { normalizeRequestPath } from '../path/normalize-request-path.js';

export interface WritVerifierOptions {
  /** Writ's issuer URL, exactly as in its tokens' `iss` (e.g. `https://writ.example`). */
  issuer: string;
  /** This service's resource URI as registered in Writ (e.g. `https://writ.example/r/billing`): the tokens' `aud`. */
  audience: string;
  /** The token the revocation feed is read with (`Authorization: Bearer`). */
  feedToken: string;
  /** Default `{issuer}/revocation/v1/events`. */
  feedUrl?: string;
  /** Default `{issuer}/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** DPoP proof algorithms accepted. Default ES256, EdDSA, RS256, PS256 (the gateway's). */
  algorithms?: readonly string[];
  /** Tolerated clock difference for tokens and proofs, seconds. Default 5. */
  clockSkewSeconds?: number;
  /** How old a DPoP proof may be, seconds. Default 60. */
  maxProofAgeSeconds?: number;
  /** Refuse every call once the feed has not been current for this long, ms. Default 30,000. */
  maxStalenessMs?: number;
  /** Accept bearer task tokens issued without `cnf` (see `CheckCallContext.acceptBearer`). Default false. */
  acceptBearer?: boolean;
  /** Bounds of the in-memory caches. Defaults: 100,000 replay entries, 10,000 verified tokens. */
  replayCacheEntries?: number;
  tokenCacheEntries?: number;
  jwks?: { timeoutMs?: number; maxBytes?: number; unknownKidCooldownMs?: number; refreshIntervalMs?: number };
  feed?: { reconnectDelayMs?: number; maxReconnectDelayMs?: number; heartbeatTimeoutMs?: number };
  /** For tests and proxies. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

/** What one request brings: method, the absolute URL as the client addressed it, and every header, repeats kept. */
export interface VerifierRequest {
  method: string;
  url: string;
  /** Raw header pairs (`[name, value]`), or Node's flat `rawHeaders` list (`name, value, name, value…`). */
  headers: RawHeaders;
}

export interface WritVerifierState {
  /** Calls are being verified (false: every call is refused with ERR_NOT_READY). */
  ready: boolean;
  /** The revocation log sequence this verifier is current to. */
  lastSeq: number;
  /** The revocation feed is connected. */
  connected: boolean;
  /** When the feed last sent anything (event or heartbeat), ms since the epoch; null before that. */
  lastEventAt: number | null;
  /** Writ's keys have been loaded. */
  keysLoaded: boolean;
  /** Feed events ignored because their data was not valid. */
  invalidEvents: number;
  /** Why the feed's last connection failed, null if none has. */
  lastError: string | null;
}

export interface WritVerifier {
  /** Verifies one call; throws a WritError (stable code) on any refusal. */
  verify(request: VerifierRequest): Promise<VerifiedCall>;
  /** A snapshot, for health endpoints. */
  readonly state: WritVerifierState;
  /** The DPoP algorithms accepted (for `WWW-Authenticate: DPoP algs=…`). */
  readonly algorithms: readonly string[];
  readonly acceptBearer: boolean;
  /** Resolves once the verifier is ready (first keys and first catch-up); rejects when closed before. */
  whenReady(): Promise<void>;
  /** Called after every change of state; returns the unsubscribe function. */
  onChange(listener: (state: WritVerifierState) => void): () => void;
  /** Stops the feed and timers; every later call is refused. */
  close(): Promise<void>;
}

const DEFAULT_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

/**
 * @example
 * const verifier = createWritVerifier({
 *   issuer: 'https://writ.example',
 *   audience: 'https://writ.example/r/billing',
 *   feedToken: process.env.WRIT_FEED_TOKEN!,
 * });
 * const { claims, jkt } = await verifier.verify({ method: req.method, url: `https://billing.example${req.url}`, headers: req.rawHeaders });
 */
export function createWritVerifier(options: WritVerifierOptions): WritVerifier {
  const issuer = requireUrl(options.issuer, 'issuer');
  const audience = requireUrl(options.audience, 'audience');
  const base = issuer.replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const nowSeconds = (): number => now() / 1000;
  const f = options.fetch ?? globalThis.fetch.bind(globalThis);
  const algorithms = Object.freeze([...(options.algorithms ?? DEFAULT_ALGS)]);
  const maxStalenessMs = options.maxStalenessMs ?? 30_000;
  const acceptBearer = options.acceptBearer === true;
  const listeners = new Set<(s: WritVerifierState) => void>();
  let closed = false;

  const revocations = new RevocationSet();
  const replay = new InMemoryReplayCache({ maxEntries: options.replayCacheEntries ?? 100_000, now: nowSeconds });
  const tokenCache = new VerifiedTokenCache({ maxEntries: options.tokenCacheEntries ?? 10_000 });
  const keys = new RemoteJwks({
    url: options.jwksUrl ?? `${base}/.well-known/jwks.json`,
    fetch: f,
    now,
    ...(options.jwks?.timeoutMs !== undefined ? { timeoutMs: options.jwks.timeoutMs } : {}),
    ...(options.jwks?.maxBytes !== undefined ? { maxBytes: options.jwks.maxBytes } : {}),
    ...(options.jwks?.unknownKidCooldownMs !== undefined ? { cooldownMs: options.jwks.unknownKidCooldownMs } : {}),
  });
  const feed = new RevocationFeed({
    url: options.feedUrl ?? `${base}/revocation/v1/events`,
    token: options.feedToken,
    set: revocations,
    fetch: f,
    now,
    ...options.feed,
    onChange: () => notify(),
  });

  const isReady = (): boolean => {
    if (closed || !keys.loaded) return false;
    const s = feed.state;
    if (!s.everCurrent) return false;
    return s.current || (s.lostAt !== null && now() - s.lostAt <= maxStalenessMs);
  };
  const snapshot = (): WritVerifierState => {
    const s = feed.state;
    return {
      ready: isReady(),
      lastSeq: s.lastSeq,
      connected: s.connected,
      lastEventAt: s.lastEventAt,
      keysLoaded: keys.loaded,
      invalidEvents: s.invalidEvents,
      lastError: s.lastError,
    };
  };
  function notify(): void {
    if (listeners.size === 0) return;
    const s = snapshot();
    for (const l of listeners) {
      try {
        l(s);
      } catch {
        // A listener's failure is the listener's business.
      }
    }
  }

  // Keys: retried with backoff until the first load succeeds, then refreshed on an interval.
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    (t as { unref?: () => void }).unref?.();
    timers.add(t);
  };
  const refreshInterval = options.jwks?.refreshIntervalMs ?? 300_000;
  const loadKeys = (delay: number): void => {
    void keys.refresh().then((ok) => {
      if (closed) return;
      notify();
      if (ok) later(refreshInterval, () => loadKeys(1_000));
      else later(delay, () => loadKeys(Math.min(delay * 2, 30_000)));
    });
  };
  loadKeys(500);
  feed.start();
  // Entries no live token can match are dropped, so memory stays bounded by the token lifetime.
  const pruneTimer = setInterval(() => revocations.prune(Math.floor(nowSeconds())), 60_000);
  (pruneTimer as { unref?: () => void }).unref?.();

  // Writ names an HTTP resource `{issuer}/r/{id}`: with that id, an action killed at Writ is refused here too.
  const httpPrefix = `${base}${PATHS.httpResourcePrefix}`;
  const httpResourceId = audience.startsWith(httpPrefix) ? audience.slice(httpPrefix.length) : undefined;

  const ctx = {
    issuer,
    audience,
    keys,
    replay,
    revocations,
    tokenCache,
    algorithms,
    maxAgeSeconds: options.maxProofAgeSeconds ?? 60,
    clockSkewSeconds: options.clockSkewSeconds ?? 5,
    now: nowSeconds,
    acceptBearer,
  };

  const verifier: WritVerifier = {
    get state() {
      return snapshot();
    },
    algorithms,
    acceptBearer,
    async verify(request) {
      if (!isReady()) throw new WritError('ERR_NOT_READY', closed ? 'verifier closed' : 'keys or revocation state not current');
      if (typeof request.url !== 'string' || !/^https?:\/\//i.test(request.url))
        throw new TypeError('request.url must be the absolute URL the client addressed');
      const call = {
        method: request.method,
        url: request.url,
        authorization: headerValues(request.headers, 'authorization'),
        dpop: headerValues(request.headers, 'dpop'),
      };
      let verified: VerifiedCall;
      try {
        verified = await checkCall(call, ctx);
      } catch (err) {
        // A key rotation: the token names a key we do not have yet. The proof was not looked at (the token is checked
        // first), so nothing was stored in the replay cache and the whole check can run again.
        if (!(err instanceof WritError && err.code === 'ERR_TOKEN_KID_UNKNOWN' && (await keys.refreshForUnknownKid())))
          throw asWritError(err);
        notify();
        verified = await checkCall(call, ctx).catch((e: unknown) => Promise.reject(asWritError(e)));
      }
      if (httpResourceId !== undefined) refuseKilledAction(revocations, httpResourceId, request.method, request.url);
      return verified;
    },
    whenReady() {
      if (isReady()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const off = verifier.onChange((s) => {
          if (s.ready) {
            off();
            resolve();
          } else if (closed) {
            off();
            reject(new WritError('ERR_NOT_READY', 'verifier closed'));
          }
        });
      });
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(pruneTimer);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      notify();
      await feed.close();
      listeners.clear();
    },
  };
  return verifier;
}

function requireUrl(v: unknown, name: string): string {
  if (typeof v !== 'string' || !URL.canParse(v) || !/^https?:$/.test(new URL(v).protocol))
    throw new TypeError(`${name} must be an http(s) URL`);
  return v;
}

/**
 * The absolute URL a client addressed, from the service's configured public URL and the request target's path — never
 * from `Host` or `X-Forwarded-*`, which the client controls. Only origin-form targets (`/path?query`) are accepted.
 *
 * @example
 * publicRequestUrl('https://billing.example', req.url) // 'https://billing.example/v1/invoices?x=1'
 */
export function publicRequestUrl(publicUrl: string, target: string): string {
  if (!target.startsWith('/') || target.startsWith('//')) throw new WritError('ERR_PATH_INVALID', 'request target is not in origin form');
  return `${publicUrl.replace(/\/+$/, '')}${target}`;
}

/** ERR_REVOKED_TOOL when a killed action of this resource covers the call (an unparsable path is the caller's to refuse). */
function refuseKilledAction(set: RevocationSet, resourceId: string, method: string, url: string): void {
  let path: string;
  try {
    path = normalizeRequestPath(new URL(url).pathname);
  } catch {
    return;
  }
  const killed = set.httpActionRevoked(resourceId, method.toUpperCase(), path);
  if (killed !== null) throw new WritError('ERR_REVOKED_TOOL', `${killed} is revoked`);
}
