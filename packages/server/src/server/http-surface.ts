/**
 * Writ's HTTP surface on Fastify: discovery documents, the agent API, health, readiness, metrics, the admin API and
 * the operator console.
 * The per-call paths bypass Fastify (route-dispatch.ts): the gateways, the OAuth endpoints (oauth-endpoints.ts) and
 * the revocation feed run on raw `node:http`.
 */
import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import { AUTHORIZATION_DETAIL_TYPES, BUDGET_DETAIL_TYPE, DPOP_ALGS, GRANT_TYPE, ID_JAG, PATHS } from '@writ/protocol';
import { checkCall, headerValues, type CheckCallContext } from '@writ/verify/internal';
import { WritError, type NodeChecks } from '@writ/protocol';
import { errorResponse, familyOfPath, replyWire, UnacceptableInputError, writCodeResponse } from '../errors/index.js';
import type { SigningKeys } from '../token/index.js';
import type { TaskService } from '../tasks/index.js';
import { traceFrom, type Logger } from '../observability/index.js';
import { registerAdminApi, type AdminAuth, type AdminServices, type ConsoleSessionAuth } from '../admin-api/index.js';
import type { Resource } from '../register/index.js';
import type { AuditPort } from '../audit/index.js';
import type { FailedAuthThrottle } from '../http/index.js';

export interface SurfaceDeps {
  publicUrl: string;
  /** The current DPoP server nonce, when nonces are required (handed out with agent-API denials). */
  nonce(): string | undefined;
  keys: SigningKeys;
  /** Public keys published beside the token-signing keys, never used to verify tokens (the SET signing key). */
  extraJwks?: () => JWK[];
  tasks: TaskService;
  check: Omit<CheckCallContext, 'audience'>;
  adminAuth: AdminAuth;
  authThrottle: FailedAuthThrottle;
  admin: AdminServices;
  findResource(id: string): Resource | undefined;
  readiness(): Promise<{ ready: boolean; checks: NodeChecks }>;
  /** The Prometheus registry served at /metrics. */
  metrics: { contentType: string; metrics(): Promise<string> };
  /** The authorization server's browser routes, and whether Dynamic Client Registration is open to anyone or by token. */
  authorization: { routes(app: FastifyInstance): void; registration: boolean };
  /** The operator console's routes, and its sessions as the admin API accepts them; undefined where it is off. */
  console?: { routes(app: FastifyInstance): void; sessions: ConsoleSessionAuth } | undefined;
  audit: AuditPort;
  logger: Logger;
}

export function registerHttpSurface(app: FastifyInstance, deps: SurfaceDeps): void {
  const issuer = deps.publicUrl;
  // One error handler for every Fastify route: each path answers in its own wire family (errors/).
  app.setErrorHandler((err, req, reply) => {
    const path = req.url.split('?', 1)[0] as string;
    const { response, internal } = errorResponse(err, familyOfPath(path), { algs: DPOP_ALGS, nonce: deps.nonce() });
    if (internal) deps.logger.error({ err, path }, 'unhandled error');
    void replyWire(reply, response);
  });
  // No text with a NUL in it goes further, in a path parameter, the query or a JSON body: a clear 400 in the path's
  // own family, before any handler looks it up or stores it (the store's guard is only the net under this).
  app.addHook('preValidation', async (req) => {
    if (hasNul(req.params) || hasNul(req.query) || hasNul(req.body)) throw new UnacceptableInputError('a value contains a NUL character');
  });

  app.get(PATHS.jwks, async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=300').send({ keys: [...deps.keys.jwks().keys, ...(deps.extraJwks?.() ?? [])] }),
  );

  const signingAlgs = ['ES256', 'EdDSA', 'RS256', 'PS256'];
  // RFC 8414, with what the MCP authorization revisions read (PKCE S256, CIMD, RFC 9207 `iss`, registration).
  const asMetadata = {
    issuer,
    authorization_endpoint: `${issuer}${PATHS.authorize}`,
    token_endpoint: `${issuer}${PATHS.token}`,
    jwks_uri: `${issuer}${PATHS.jwks}`,
    ...(deps.authorization.registration ? { registration_endpoint: `${issuer}${PATHS.register}` } : {}),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [GRANT_TYPE.authorizationCode, GRANT_TYPE.refreshToken, GRANT_TYPE.tokenExchange, GRANT_TYPE.jwtBearer],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: signingAlgs,
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    authorization_grant_profiles_supported: [ID_JAG.grantProfile],
    introspection_endpoint: `${issuer}${PATHS.introspect}`,
    introspection_endpoint_auth_methods_supported: ['private_key_jwt'],
    introspection_endpoint_auth_signing_alg_values_supported: signingAlgs,
    revocation_endpoint: `${issuer}${PATHS.revoke}`,
    revocation_endpoint_auth_methods_supported: ['private_key_jwt'],
    revocation_endpoint_auth_signing_alg_values_supported: signingAlgs,
    dpop_signing_alg_values_supported: [...(deps.check.algorithms ?? DPOP_ALGS)],
    authorization_details_types_supported: [...AUTHORIZATION_DETAIL_TYPES, BUDGET_DETAIL_TYPE],
    service_documentation: 'https://github.com/writ-dev/writ/tree/main/docs',
  };
  app.get(PATHS.asMetadata, async () => asMetadata);

  // RFC 9728 §3: one document per resource, at the well-known path followed by the resource's own path.
  for (const prefix of [PATHS.httpResourcePrefix, PATHS.mcpResourcePrefix]) {
    app.get(`${PATHS.protectedResourceMetadata}${prefix}:id`, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const resource = deps.findResource(id);
      const kind = prefix === PATHS.mcpResourcePrefix ? 'mcp' : 'http';
      if (resource === undefined || resource.kind !== kind) return replyWire(reply, writCodeResponse('ERR_RESOURCE_UNKNOWN'));
      return {
        resource: `${issuer}${prefix}${id}`,
        authorization_servers: [issuer],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: [...(deps.check.algorithms ?? DPOP_ALGS)],
        dpop_bound_access_tokens_required: resource.mcp?.bearer.allowed !== true,
        authorization_details_types_supported: [resource.kind],
        ...(resource.kind === 'mcp' ? { scopes_supported: Object.keys(resource.scopes) } : {}),
        resource_name: resource.description !== '' ? resource.description : id,
      };
    });
  }

  // The agent ends its own task with its own (DPoP-bound) task token; the token's audience is its resource, so
  // this endpoint checks everything but the audience.
  app.post(PATHS.taskComplete, async (req, reply) => {
    const trace = traceFrom(req.headers.traceparent);
    let claims;
    try {
      ({ claims } = await checkCall(
        {
          method: 'POST',
          url: `${issuer}${PATHS.taskComplete}`,
          authorization: headerValues(req.raw.rawHeaders, 'authorization'),
          dpop: headerValues(req.raw.rawHeaders, 'dpop'),
        },
        { ...deps.check, audience: null },
      ));
    } catch (err) {
      // Every denial leaves an audit event, here as at the gateway.
      const code = err instanceof WritError ? err.code : 'ERR_INTERNAL';
      deps.audit.record({
        type: 'call.denied',
        trace_id: trace.traceId,
        action: `POST ${PATHS.taskComplete}`,
        decision: 'deny',
        reason: code,
        detail: (err as { detail?: string }).detail ?? '',
      });
      throw err;
    }
    const task = await deps.tasks.end(claims.task_id, {
      status: 'completed',
      reason: 'completed by its agent',
      actor: `agent:${claims.client_id}`,
    });
    return reply.code(200).send({ task_id: task.id, status: task.status });
  });

  // How a held-back call's approval stands, for the agent that was told to wait. The id is unguessable and the answer
  // says nothing of the call: the status, and until when it holds.
  app.get(`${PATHS.approvalStatusPrefix}:id`, async (req, reply) => {
    const a = await deps.admin.approvals.get(String((req.params as { id?: unknown }).id ?? ''));
    if (a === undefined) return replyWire(reply, writCodeResponse('ERR_APPROVAL_UNKNOWN'));
    return reply.header('cache-control', 'no-store').send({ id: a.id, status: a.status, expires_at: a.expiresAt });
  });

  app.get(PATHS.healthz, async () => ({ status: 'ok' }));
  app.get(PATHS.metrics, async (_req, reply) => reply.header('content-type', deps.metrics.contentType).send(await deps.metrics.metrics()));
  app.get(PATHS.readyz, async (_req, reply) => {
    const r = await deps.readiness();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks });
  });

  deps.authorization.routes(app);
  deps.console?.routes(app);
  registerAdminApi(app, {
    auth: deps.adminAuth,
    services: deps.admin,
    publicUrl: issuer,
    audit: deps.audit,
    throttle: deps.authThrottle,
    consoleSessions: deps.console?.sessions,
  });
}

/** Whether any string (key or value) in a parsed request part holds a NUL; iterative, so depth cannot overflow. */
function hasNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\0')) return true;
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\0')) return true;
        stack.push(x);
      }
    }
  }
  return false;
}
