/**
 * One POST to an endpoint outside Writ (a SIEM collector, a checkpoint store), through the egress guard's fetch,
 * retried with exponential backoff while it fails (network error, timeout, or a status other than 2xx). Redirects
 * are not followed: the endpoint is what the operator configured.
 */
export interface PostOutcome {
  ok: boolean;
  attempts: number;
  /** Why the last attempt failed. */
  why?: string;
}

export async function postWithRetry(
  fetch: typeof globalThis.fetch,
  url: string,
  body: string,
  o: {
    contentType: string;
    attempts: number;
    firstDelayMs: number;
    maxDelayMs?: number;
    timeoutMs?: number;
    headers?: Record<string, string>;
  },
): Promise<PostOutcome> {
  let delay = o.firstDelayMs;
  let why = '';
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...o.headers, 'content-type': o.contentType },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true, attempts: attempt };
      why = `status ${res.status}`;
    } catch (err) {
      why = (err as Error).message;
    }
    if (attempt >= o.attempts) return { ok: false, attempts: attempt, why };
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    delay = Math.min(delay * 2, o.maxDelayMs ?? 60_000);
  }
}
