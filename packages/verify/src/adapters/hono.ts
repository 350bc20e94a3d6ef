/**
 * `@writ/verify/hono`: Writ's verifier as Hono middleware. It sets `c.set('writ', { claims, jkt })` or answers the
 * denial exactly as Writ's gateway does. On `@hono/node-server` it reads the Node request's raw headers and target,
 * so a repeated Authorization or DPoP header is counted, not folded; elsewhere it reads the Fetch `Request` (where
 * repeats arrive folded into one value, which the check refuses as malformed: still a refusal). The URL's origin is
 * never taken from the request: only `publicUrl`. Hono is a peer: this module imports only its types.
 */
import type { MiddlewareHandler } from 'hono';
import type { VerifiedCall } from '../check/check-call.js';
import { adapterStep, type WritAdapterOptions } from '../middleware/adapter-options.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The verified call (set by `writHono`). */
    writ: VerifiedCall;
  }
}

export type WritHonoOptions = WritAdapterOptions;

/** Hono's `Variables` for apps that type their context explicitly. */
export interface WritVariables {
  writ: VerifiedCall;
}

interface NodeIncoming {
  url?: string;
  rawHeaders?: string[];
}

/**
 * @example
 * const app = new Hono();
 * app.use('/v1/*', writHono({ verifier, publicUrl: 'https://billing.example' }));
 * app.get('/v1/invoices', (c) => c.json({ user: c.get('writ').claims.sub }));
 */
export function writHono(options: WritHonoOptions): MiddlewareHandler {
  const step = adapterStep(options);
  return async (c, next) => {
    const incoming = (c.env as { incoming?: NodeIncoming } | undefined)?.incoming;
    let target: string;
    let headers: ReadonlyArray<readonly [string, string]> | readonly string[];
    if (incoming !== undefined && typeof incoming.url === 'string' && Array.isArray(incoming.rawHeaders)) {
      target = incoming.url;
      headers = incoming.rawHeaders;
    } else {
      const u = new URL(c.req.url);
      target = `${u.pathname}${u.search}`;
      headers = [...c.req.raw.headers];
    }
    const r = await step.run(c.req.method, target, headers);
    if ('ok' in r) {
      c.set('writ', r.ok);
      await next();
      return;
    }
    return c.body(r.deny.body, r.deny.status as 401, r.deny.headers);
  };
}
