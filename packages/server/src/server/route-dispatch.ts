/**
 * Which component answers a request, decided on the raw request before any of them sees it: by path, by this node's
 * cluster role, and by whether its revocation state is current. A refusal made here is audited like every other
 * denial, by the node that refused, and answered in the shape of the path's family.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PATHS, WritError } from '@writ/protocol';
import {
  errorResponse,
  familyOfPath,
  jsonWire,
  OAuthError,
  oauthErrorResponse,
  sendWire,
  writCodeResponse,
  type WireResponse,
  RETRY_AFTER_SECONDS,
} from '../errors/index.js';
import { traceFrom } from '../observability/index.js';
import type { AuditPort } from '../audit/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface DispatchDeps {
  role: string;
  nodeId: string;
  serves: { control: boolean; gateway: boolean };
  /** This node's revocation state is confirmed current (always, on the embedded store). */
  revocationCurrent(): boolean;
  /** Most request headers served; a request with more is refused 431 (the listener keeps one extra so it shows). */
  maxHeadersCount: number;
  audit: AuditPort;
  dpopAlgs: readonly string[];
  httpGateway: Handler;
  mcpGateway: Handler;
  revocationFeed: Handler;
  oauth: { paths: readonly string[]; handle: Handler };
  /** Everything else: Fastify (discovery, agent API, health, admin API, Shared Signals). */
  fastify: Handler;
}

export function createDispatcher(deps: DispatchDeps): Handler {
  const oauthPaths = new Set(deps.oauth.paths);
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    code: 'ERR_ROLE_NOT_SERVED' | 'ERR_NOT_READY' | 'ERR_HEADER_INVALID',
  ): void => {
    const trace = traceFrom(req.headers.traceparent);
    const type = path === PATHS.token ? 'token.denied' : path.startsWith(PATHS.admin) ? 'admin.denied' : 'call.denied';
    deps.audit.record({
      type,
      trace_id: trace.traceId,
      decision: 'deny',
      reason: code,
      data: { method: req.method, path, role: deps.role, node: deps.nodeId, source: req.socket.remoteAddress ?? 'unknown' },
    });
    sendWire(
      res,
      code === 'ERR_ROLE_NOT_SERVED'
        ? writCodeResponse(code)
        : code === 'ERR_HEADER_INVALID'
          ? jsonWire(431, { code, message: `more than ${deps.maxHeadersCount} request headers` }, { connection: 'close' })
          : staleAnswer(path, deps.dpopAlgs),
    );
    if (!req.complete) req.resume();
  };
  return (req, res) => {
    const url = req.url ?? '';
    const path = url.split('?', 1)[0] as string;
    if (req.rawHeaders.length / 2 > deps.maxHeadersCount) return refuse(req, res, path, 'ERR_HEADER_INVALID');
    if (path.startsWith(PATHS.httpResourcePrefix) || path.startsWith(PATHS.mcpResourcePrefix)) {
      if (!deps.serves.gateway) return refuse(req, res, path, 'ERR_ROLE_NOT_SERVED');
      return path.startsWith(PATHS.httpResourcePrefix) ? deps.httpGateway(req, res) : deps.mcpGateway(req, res);
    }
    if (!deps.serves.control && !servedByEveryRole(path)) return refuse(req, res, path, 'ERR_ROLE_NOT_SERVED');
    if (!deps.revocationCurrent() && revocationDependent(path)) return refuse(req, res, path, 'ERR_NOT_READY');
    if (path === PATHS.revocationFeed) return deps.revocationFeed(req, res);
    if (oauthPaths.has(path)) return deps.oauth.handle(req, res);
    return deps.fastify(req, res);
  };
}

/** The answer of a node that is not current: OAuth's `temporarily_unavailable` at OAuth endpoints, else the family's own. */
function staleAnswer(path: string, algs: readonly string[]): WireResponse {
  const detail = 'revocation state of this node is not current';
  const family = familyOfPath(path);
  if (family === 'oauth')
    return oauthErrorResponse(
      new OAuthError('temporarily_unavailable', detail, { headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } }),
    );
  if (family === 'gateway') return errorResponse(new WritError('ERR_NOT_READY', detail), family, { algs }).response;
  return writCodeResponse('ERR_NOT_READY', detail, { 'retry-after': String(RETRY_AFTER_SECONDS) });
}

/** Paths every node serves, whatever its role: health, readiness, metrics, and the metadata clients discover first. */
function servedByEveryRole(path: string): boolean {
  return (
    path === PATHS.healthz ||
    path === PATHS.readyz ||
    path === PATHS.metrics ||
    path === PATHS.jwks ||
    path === PATHS.asMetadata ||
    path.startsWith(PATHS.protectedResourceMetadata)
  );
}

/** Answers that depend on this node's revocation state: a stale node must not vouch for a token. */
function revocationDependent(path: string): boolean {
  return path === PATHS.token || path === PATHS.introspect || path === PATHS.revocationFeed || path === PATHS.taskComplete;
}
