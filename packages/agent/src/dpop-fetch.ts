/**
 * A `fetch` that presents a task token the RFC 9449 §7 way: `Authorization: DPoP <token>` and a fresh proof for
 * each request's method and URL. Retries once on a `use_dpop_nonce` challenge when the body can be sent again.
 */
import type { DpopKey } from './dpop-key.js';
import { createDpopProof } from './dpop-proof.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

export interface DpopFetchOptions {
  accessToken: string;
  key: DpopKey;
  fetch?: typeof fetch;
}

export function createDpopFetch(opts: DpopFetchOptions): typeof fetch {
  const doFetch = opts.fetch ?? fetch;
  const nonces = new Map<string, string>();
  const dpopFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const replayable =
      init.body === undefined ||
      init.body === null ||
      typeof init.body === 'string' ||
      init.body instanceof Uint8Array ||
      init.body instanceof URLSearchParams;
    for (let attempt = 0; ; attempt++) {
      const nonce = nonces.get(url.origin);
      const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
      headers.set('authorization', `DPoP ${opts.accessToken}`);
      headers.set(
        'dpop',
        await createDpopProof(opts.key, {
          htm: method,
          htu: url.toString(),
          accessToken: opts.accessToken,
          ...(nonce !== undefined ? { nonce } : {}),
        }),
      );
      const res = await doFetch(input instanceof Request ? input.url : url, { ...init, method, headers });
      const next = res.headers.get('dpop-nonce');
      if (next !== null) nonces.set(url.origin, next);
      const challenge = parseWwwAuthenticate(res.headers.get('www-authenticate')).find((c) => c.scheme.toLowerCase() === 'dpop');
      if (res.status === 401 && challenge?.params['error'] === 'use_dpop_nonce' && next !== null && attempt === 0 && replayable) {
        await res.body?.cancel();
        continue;
      }
      return res;
    }
  };
  return dpopFetch;
}
