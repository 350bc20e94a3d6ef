/**
 * A GET whose size and time are bounded, for key sets and discovery documents: whoever sends a token chooses when
 * Writ (or a verifier) fetches, so a slow or endless answer must cost a bounded wait and a bounded buffer. Redirects
 * are refused unless the caller says otherwise (a redirect could leave https or loopback). The one bounded fetcher,
 * for @writ/verify's JWKS and the server's identity providers.
 */

export interface BoundedFetchOptions {
  fetch?: typeof fetch;
  timeoutMs: number;
  maxBytes: number;
  /** Passed through (headers, an abort signal, `redirect`); `redirect` defaults to `error`. */
  init?: RequestInit;
}

export interface BoundedAnswer {
  status: number;
  contentType: string | null;
  /** The body, decoded as UTF-8 (invalid UTF-8 is an error). */
  text: string;
}

/**
 * @example
 * const { status, text } = await fetchBounded('https://idp.example/.well-known/openid-configuration', { timeoutMs: 5000, maxBytes: 262144 });
 */
export async function fetchBounded(url: string | URL, o: BoundedFetchOptions): Promise<BoundedAnswer> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.init?.signal != null ? AbortSignal.any([o.init.signal, timeout]) : timeout;
  const res = await (o.fetch ?? globalThis.fetch)(url, { redirect: 'error', ...o.init, signal });
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > o.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`response larger than ${o.maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body !== null) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > o.maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new Error(`response larger than ${o.maxBytes} bytes`);
      }
      chunks.push(value);
    }
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text: new TextDecoder('utf-8', { fatal: true }).decode(all) };
}
