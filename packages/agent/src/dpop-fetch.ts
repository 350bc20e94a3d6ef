/**
 * RFC 9449 §7.1: presenting a DPoP-bound access token. Every request gets `Authorization: DPoP <token>` and a fresh
 * proof for its own method and URL (with `ath`). RFC 9449 §9: a resource that wants a nonce answers 401 with
 * `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce` header; the request is then sent once more with a
 * new proof carrying that nonce, but only when its body can be sent twice. The latest nonce per origin is remembered,
 * since servers may hand out the next one on any answer.
 */
import type { DpopKey } from './dpop-key.js';
import { accessTokenHash, signDpopProof } from './dpop-proof.js';
import { normalizeMethod } from './http-target.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

export interface DpopFetchOptions {
  accessToken: string;
  key: DpopKey;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Last `DPoP-Nonce` per origin; share one map between fetches (and `exchangeToken`) talking to the same servers. */
  nonces?: Map<string, string>;
}

/**
 * @example
 * const f = createDpopFetch({ accessToken: task.token, key });
 * const res = await f('https://writ.example/r/api/v1/projects?limit=5');
 */
export function createDpopFetch(opts: DpopFetchOptions): typeof fetch {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const nonces = opts.nonces ?? new Map<string, string>();
  // One token, many requests: its `ath` is computed once.
  let ath: Promise<string> | undefined;
  const proof = async (htm: string, htu: string, nonce: string | undefined): Promise<string> =>
    signDpopProof(opts.key, {
      htm,
      htu,
      ath: await (ath ??= accessTokenHash(opts.accessToken)),
      ...(nonce !== undefined ? { nonce } : {}),
    });

  return async function dpopFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    // The common case — a URL and a body that is a value (or none) — needs no Request objects of its own: fetch makes
    // one, and every extra one would also follow the caller's (often long-lived) abort signal.
    if (!(input instanceof Request) && (init?.body === undefined || init.body === null || isReplayableBody(init.body))) {
      const url = new URL(input).href;
      const origin = new URL(url).origin;
      const method = normalizeMethod(init?.method ?? 'GET');
      for (let attempt = 0; ; attempt++) {
        const nonce = nonces.get(origin);
        const headers = new Headers(init?.headers);
        headers.set('authorization', `DPoP ${opts.accessToken}`);
        headers.set('dpop', await proof(method, url, nonce));
        const res = await doFetch(url, { ...init, headers });
        const next = res.headers.get('dpop-nonce');
        if (next !== null) nonces.set(origin, next);
        if (attempt === 0 && next !== null && res.status === 401 && asksForNonce(res.headers.get('www-authenticate'))) {
          await res.body?.cancel();
          continue;
        }
        return res;
      }
    }
    // Let the Request constructor apply fetch's own rules (method normalisation, Request + init merging), so the
    // proof describes exactly the request that is sent.
    const request = new Request(input, init);
    const origin = new URL(request.url).origin;
    // A body given as a value can be sent twice; a stream (or a Request's own body) cannot.
    const canReplay = request.body === null || (init?.body !== undefined && init.body !== null && isReplayableBody(init.body));

    for (let attempt = 0; ; attempt++) {
      const mayRetry = attempt === 0 && canReplay;
      // Keep the original intact while a retry is still possible: a sent body cannot be read again.
      const base = mayRetry && request.body !== null ? request.clone() : request;
      const nonce = nonces.get(origin);
      const headers = new Headers(base.headers);
      headers.set('authorization', `DPoP ${opts.accessToken}`);
      headers.set('dpop', await proof(request.method, request.url, nonce));
      const res = await doFetch(new Request(base, { headers }));
      const next = res.headers.get('dpop-nonce');
      if (next !== null) nonces.set(origin, next);
      if (mayRetry && next !== null && res.status === 401 && asksForNonce(res.headers.get('www-authenticate'))) {
        // Free the connection; this answer is replaced by the retry's.
        await res.body?.cancel();
        continue;
      }
      return res;
    }
  };
}

function asksForNonce(header: string | null): boolean {
  return parseWwwAuthenticate(header).some((c) => c.scheme.toLowerCase() === 'dpop' && c.params['error'] === 'use_dpop_nonce');
}

/** Bodies that are values rather than one-shot streams, so the same bytes go out again on a retry. */
function isReplayableBody(body: NonNullable<RequestInit['body']>): boolean {
  return (
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof URLSearchParams ||
    body instanceof Blob
  );
}
