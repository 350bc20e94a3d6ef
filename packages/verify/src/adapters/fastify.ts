/**
 * `@writ/verify/fastify`: Writ's verifier as a Fastify plugin. It adds an `onRequest` hook to the scope it is
 * registered in (it skips encapsulation, like `fastify-plugin`, so the hook covers that scope's routes) that sets
 * `request.writ = { claims, jkt }` or answers the denial exactly as Writ's gateway does. Fastify is a peer: this
 * module imports only its types.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { VerifiedCall } from '../check/check-call.js';
import { adapterStep, type WritAdapterOptions } from '../middleware/adapter-options.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified call (set by `writFastify` before any handler runs). */
    writ: VerifiedCall | null;
  }
}

export type WritFastifyOptions = WritAdapterOptions;

/**
 * @example
 * const app = Fastify();
 * await app.register(writFastify, { verifier, publicUrl: 'https://billing.example' });
 * app.get('/v1/invoices', async (req) => ({ user: req.writ?.claims.sub }));
 */
export const writFastify: FastifyPluginAsync<WritFastifyOptions> = async (app, options) => {
  const step = adapterStep(options);
  app.decorateRequest('writ', null);
  app.addHook('onRequest', async (request, reply) => {
    const r = await step.run(request.method, request.raw.url ?? '/', request.raw.rawHeaders);
    if ('ok' in r) {
      request.writ = r.ok;
      return;
    }
    await reply.code(r.deny.status).headers(r.deny.headers).send(r.deny.body);
    return reply;
  });
};
(writFastify as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
(writFastify as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = '@writ/verify';
