/**
 * Mounts the admin route table on Fastify under `/admin/v1`: authenticates every request with an admin token,
 * validates params/query/body with the route's zod schema, maps errors to the admin error table.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PATHS } from '@writ/protocol';
import { headerValues } from '@writ/verify/internal';
import { AdminError, adminRateLimited } from '../errors/index.js';
import type { FailedAuthThrottle } from '../http/index.js';
import type { AuditPort } from '../audit/index.js';
import type { AdminAuth } from './admin-auth.js';
import { ADMIN_ROUTES, type AdminServices } from './routes.js';
import { buildOpenApi } from './openapi.js';
import { parseInput } from './parse-input.js';

export function registerAdminApi(
  app: FastifyInstance,
  deps: { auth: AdminAuth; services: AdminServices; publicUrl: string; audit: AuditPort; throttle: FailedAuthThrottle },
): void {
  const openapi = buildOpenApi(ADMIN_ROUTES, deps.publicUrl);
  app.get(PATHS.openapi, async () => openapi);
  for (const route of ADMIN_ROUTES) {
    app.route({
      method: route.method,
      url: `${PATHS.admin}${route.url}`,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const source = req.socket.remoteAddress ?? 'unknown';
        const wait = deps.throttle.retryAfterSeconds(source);
        if (wait > 0) throw adminRateLimited(wait);
        const authorization = headerValues(req.raw.rawHeaders, 'authorization');
        if (authorization.length > 1) throw new AdminError('ERR_ADMIN_INVALID_REQUEST', 'more than one Authorization header');
        const principal = await deps.auth.authenticate(authorization[0]);
        if (principal === undefined) {
          // A refused operator is a denial like any other, on the record without the token it tried (recorded per
          // window and address, like every refusal of an unauthenticated caller: audit/anonymous-denials.ts).
          const locked = deps.throttle.fail(source);
          deps.audit.record({
            type: 'admin.denied',
            action: `${route.method} ${PATHS.admin}${route.url}`,
            decision: 'deny',
            reason: locked ? 'ERR_ADMIN_RATE_LIMITED' : 'ERR_ADMIN_UNAUTHENTICATED',
            data: { source },
          });
          if (locked) throw adminRateLimited(deps.throttle.retryAfterSeconds(source));
          throw new AdminError('ERR_ADMIN_UNAUTHENTICATED', 'a valid admin token is required (Authorization: Bearer …)');
        }
        const params = req.params as Record<string, string>;
        for (const v of Object.values(params))
          if (v.length > 400) throw new AdminError('ERR_ADMIN_INVALID_REQUEST', 'path parameter too long');
        const query = route.query === undefined ? {} : parseInput(route.query, req.query ?? {});
        const body = route.body === undefined ? undefined : parseInput(route.body, req.body ?? {});
        const result = await route.handler({ params, body, query, principal, services: deps.services });
        // A change is answered once it is in force on this node: the next call through its gateway sees it.
        if (route.method !== 'GET') await deps.services.changesInForce();
        reply.code(route.status ?? 200);
        if (route.status === 204) return reply.send();
        return result;
      },
    });
  }
}
