/**
 * Mounts the admin route table on Fastify under `/admin/v1`: authenticates every request (an admin token, or a console
 * session with its CSRF proof on every change), refuses a read-only principal every change, validates
 * params/query/body with the route's zod schema, maps errors to the admin error table.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PATHS } from '@writ/protocol';
import { headerValues } from '@writ/verify/internal';
import { AdminError, adminRateLimited } from '../errors/index.js';
import type { FailedAuthThrottle } from '../http/index.js';
import type { AuditPort } from '../audit/index.js';
import type { AdminAuth, AdminPrincipal } from './admin-auth.js';
import { actor } from './actor.js';
import { ADMIN_ROUTES, type AdminServices } from './routes.js';
import { buildOpenApi } from './openapi.js';
import { parseInput } from './parse-input.js';

/**
 * Console sessions (console/): the person a request's session cookie names, when it carries one. Implemented where
 * the sessions live; the admin API only asks.
 */
export interface ConsoleSessionAuth {
  /**
   * undefined: the request names no console session (no cookie). `refused`: it names one that is over (401), or a
   * request that is not a GET lacks its CSRF proof (403).
   */
  authenticate(
    req: FastifyRequest,
    unsafe: boolean,
  ): Promise<{ principal: AdminPrincipal } | { refused: string; status: 401 | 403; principal?: AdminPrincipal } | undefined>;
}

export function registerAdminApi(
  app: FastifyInstance,
  deps: {
    auth: AdminAuth;
    services: AdminServices;
    publicUrl: string;
    audit: AuditPort;
    throttle: FailedAuthThrottle;
    consoleSessions?: ConsoleSessionAuth | undefined;
  },
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
        // Every request but a GET carries the CSRF proof; every one that changes something needs the admin role.
        const unsafe = route.method !== 'GET';
        const change = unsafe && route.changes !== false;
        const action = `${route.method} ${PATHS.admin}${route.url}`;
        // An Authorization header decides alone: a script's token never borrows a browser's cookie, nor the reverse.
        const session =
          authorization.length === 0 && deps.consoleSessions !== undefined
            ? await deps.consoleSessions.authenticate(req, unsafe)
            : undefined;
        if (session !== undefined && 'refused' in session) {
          const code = session.status === 401 ? 'ERR_ADMIN_UNAUTHENTICATED' : 'ERR_ADMIN_FORBIDDEN';
          deps.audit.record({
            type: 'admin.denied',
            action,
            decision: 'deny',
            reason: code,
            detail: session.refused,
            ...(session.principal !== undefined ? who(session.principal) : {}),
            data: { source },
          });
          throw new AdminError(code, session.refused);
        }
        const principal = session?.principal ?? (await deps.auth.authenticate(authorization[0]));
        if (principal === undefined) {
          // A refused operator is a denial like any other, on the record without the token it tried (recorded per
          // window and address, like every refusal of an unauthenticated caller: audit/anonymous-denials.ts).
          const locked = deps.throttle.fail(source);
          deps.audit.record({
            type: 'admin.denied',
            action,
            decision: 'deny',
            reason: locked ? 'ERR_ADMIN_RATE_LIMITED' : 'ERR_ADMIN_UNAUTHENTICATED',
            data: { source },
          });
          if (locked) throw adminRateLimited(deps.throttle.retryAfterSeconds(source));
          throw new AdminError('ERR_ADMIN_UNAUTHENTICATED', 'a valid admin token is required (Authorization: Bearer …)');
        }
        if (change && principal.role !== 'admin') {
          deps.audit.record({
            type: 'admin.denied',
            action,
            decision: 'deny',
            reason: 'ERR_ADMIN_FORBIDDEN',
            detail: 'read-only role',
            ...who(principal),
            data: { source },
          });
          throw new AdminError('ERR_ADMIN_FORBIDDEN', 'a read-only operator may not change anything');
        }
        const params = req.params as Record<string, string>;
        for (const v of Object.values(params))
          if (v.length > 400) throw new AdminError('ERR_ADMIN_INVALID_REQUEST', 'path parameter too long');
        const query = route.query === undefined ? {} : parseInput(route.query, req.query ?? {});
        const body = route.body === undefined ? undefined : parseInput(route.body, req.body ?? {});
        const result = await route.handler({ params, body, query, principal, services: deps.services });
        // A change is answered once it is in force on this node: the next call through its gateway sees it.
        if (change) await deps.services.changesInForce();
        reply.code(route.status ?? 200);
        if (route.status === 204) return reply.send();
        return result;
      },
    });
  }
}

/** Who a refused, authenticated operator is, on the record (so the refusal is kept one by one, not per window). */
function who(p: AdminPrincipal): { actor_chain: string[]; user_id?: string } {
  return { actor_chain: [actor(p)], ...(p.kind === 'person' ? { user_id: p.id } : {}) };
}
