/**
 * The HTTP gateway: `/r/{resource}/...`. Each call runs the same ordered steps — resolve the resource, canonicalise
 * the path, the shared per-call check from @writ/verify (token, DPoP proof, binding, revocation), the token's
 * authorization details, call-time grants, then forward with the agent's credentials stripped and the vault's
 * injected — and leaves exactly one audit event, allowed or denied, with the reason.
 *
 * It runs on raw `node:http` rather than a Fastify route: the per-call budget is a fraction of the ~100 µs DPoP
 * signature check (perf-baseline.md), and Fastify's routing and reply machinery would cost more than that.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { Pool } from 'undici';
import { ERROR_CODES, PATHS, WritError } from '@writ/protocol';
import { checkCall, matchAuthorizationDetails, normalizeRequestPath, type CheckCallContext, type DpopNonces } from '@writ/verify';
import type { Agent, Resource } from '../../register/index.js';
import { applyInjection, type SecretValue } from '../../vault/index.js';
import { httpRequest, type CallDecisionCache } from '../../policy/index.js';
import { traceFrom } from '../../observability/index.js';
import type { Logger } from '../../observability/index.js';
import { connectionListed, isHopByHop } from './hop-by-hop.js';
import { headerValues } from '../header-values.js';
import { writeDenial } from '../write-denial.js';
import type { CallState, GatewayAudit } from '../gateway-audit.js';

export interface HttpGatewayDeps {
  publicUrl: string;
  check: Omit<CheckCallContext, 'audience'>;
  resources: { get(id: string): Resource | undefined };
  agents: { get(id: string): Agent | undefined };
  /** Register version: part of every call-decision cache key, so a register change can never serve stale data. */
  entitiesVersion(): string;
  decisions: CallDecisionCache;
  secrets: { get(id: string): SecretValue | Promise<SecretValue> };
  audit: GatewayAudit;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  /** False when the enforcement point cannot vouch for its state (audit backlog, stale revocations): refuse. */
  ready(): boolean;
  dpopAlgs: readonly string[];
  /** Server nonces, when required: handed out on every answer, demanded in every proof. */
  nonces?: DpopNonces;
  logger: Logger;
}

export class HttpGateway {
  readonly #deps: HttpGatewayDeps;
  readonly #pools = new Map<string, Pool>();

  constructor(deps: HttpGatewayDeps) {
    this.#deps = deps;
  }

  /** Forget a resource's connection pool (after the resource changed or was deleted). */
  invalidate(resourceId: string): void {
    const pool = this.#pools.get(resourceId);
    if (pool !== undefined) {
      this.#pools.delete(resourceId);
      void pool.close();
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const state: CallState = {
      trace: traceFrom(req.headers.traceparent),
      started: Date.now(),
      resourceId: undefined,
      method: req.method ?? 'GET',
      path: undefined,
      claims: undefined,
    };
    this.#handle(req, res, state).catch((err: unknown) => {
      const e = err instanceof WritError ? err : new WritError('ERR_INTERNAL', String((err as Error)?.stack ?? err));
      if (e.code === 'ERR_INTERNAL') this.#deps.logger.error({ err: e.detail, trace_id: state.trace.traceId }, 'gateway internal error');
      this.#deny(req, res, state, e);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse, state: CallState): Promise<void> {
    const deps = this.#deps;
    if (!deps.ready()) throw new WritError('ERR_NOT_READY', 'enforcement point not ready');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q);
    // `/r/{resource}` then the resource-relative path.
    const rest = rawPath.slice(PATHS.httpResourcePrefix.length);
    const slash = rest.indexOf('/');
    const resourceId = slash === -1 ? rest : rest.slice(0, slash);
    const relative = slash === -1 ? '/' : rest.slice(slash);
    const resource = /^[a-z][a-z0-9-]{0,63}$/.test(resourceId) ? deps.resources.get(resourceId) : undefined;
    if (resource === undefined) throw new WritError('ERR_RESOURCE_UNKNOWN', `resource ${JSON.stringify(resourceId.slice(0, 80))}`);
    state.resourceId = resource.id;
    const audience = `${deps.publicUrl}${PATHS.httpResourcePrefix}${resource.id}`;

    const { claims } = await checkCall(
      {
        method: state.method,
        url: `${deps.publicUrl}${rawPath}`,
        authorization: headerValues(req, 'authorization'),
        dpop: headerValues(req, 'dpop'),
      },
      { ...deps.check, audience },
    );
    state.claims = claims;
    const path = normalizeRequestPath(relative);
    state.path = path;

    const agent = deps.agents.get(claims.client_id);
    if (agent === undefined || agent.status !== 'active')
      throw new WritError('ERR_REVOKED_AGENT', `agent ${claims.client_id} is ${agent?.status ?? 'unknown'}`);
    if (!matchAuthorizationDetails(claims.authorization_details, { resource: audience, method: state.method, path })) {
      throw new WritError('ERR_ACTION_NOT_AUTHORIZED', `${state.method} ${path} not in the task's authorization_details`);
    }
    const [idp, ...subParts] = claims.sub.split(':');
    const decisionInput = httpRequest({
      agent: { id: agent.id, name: agent.name, owner: agent.owner, kind: agent.kind, status: agent.status },
      user: { idp: idp ?? '', sub: subParts.join(':') },
      resource: { id: resource.id, kind: resource.kind, name: resource.id },
      method: state.method,
      path,
      purpose: claims.purpose ?? '',
      depth: claims.task_chain.length,
    });
    const pending = deps.decisions.decide(decisionInput, deps.entitiesVersion());
    const decision = pending instanceof Promise ? await pending : pending;
    if (decision.decision !== 'allow') {
      throw new WritError(
        'ERR_POLICY_DENIED',
        decision.errors.length > 0 ? `policy errors: ${decision.errors.join('; ')}` : 'no grant permits this call',
      );
    }

    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > deps.maxBodyBytes)
      throw new WritError('ERR_BODY_TOO_LARGE', `content-length ${declared}`);

    await this.#forward(req, res, state, resource, path, query, decision.reasons);
  }

  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    state: CallState,
    resource: Resource,
    path: string,
    query: string,
    grants: string[],
  ): Promise<void> {
    const deps = this.#deps;
    const listed = connectionListed(req.headers.connection);
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = (req.rawHeaders[i] as string).toLowerCase();
      if (isHopByHop(name, listed) || STRIPPED_REQUEST_HEADERS.has(name)) continue;
      const value = req.rawHeaders[i + 1] as string;
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    headers['traceparent'] = state.trace.traceparent;
    const base = new URL(resource.baseUrl);
    const searchParams = new URLSearchParams(query);
    if (resource.inject !== null && resource.secretId !== null) {
      const secret = await deps.secrets.get(resource.secretId);
      applyInjection(resource.inject, secret, { headers, searchParams });
    }
    const qs = searchParams.toString();
    const upstreamPath = `${base.pathname.replace(/\/+$/, '')}${path}${qs === '' ? '' : `?${qs}`}`;
    const hasBody =
      req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    const limiter = hasBody ? new BodyLimit(deps.maxBodyBytes) : undefined;
    let status = 0;
    try {
      await this.#pool(resource).stream(
        {
          path: upstreamPath,
          method: state.method,
          headers,
          body: limiter === undefined ? null : req.pipe(limiter),
          headersTimeout: deps.upstreamTimeoutMs,
          bodyTimeout: deps.upstreamTimeoutMs,
        },
        ({ statusCode, headers: upstreamHeaders }) => {
          status = statusCode;
          const out = filterResponseHeaders(upstreamHeaders);
          if (deps.nonces !== undefined) out['dpop-nonce'] = deps.nonces.current();
          res.writeHead(statusCode, out);
          return res;
        },
      );
    } catch (err) {
      if (limiter?.exceeded === true) throw new WritError('ERR_BODY_TOO_LARGE', `more than ${deps.maxBodyBytes} bytes`);
      if (status !== 0) {
        // The answer had started: all we can do is cut it, and say so in the audit log.
        res.destroy();
        this.#deps.audit.call(state, { decision: 'allow', reason: 'upstream_aborted', status, grants, detail: String(err) });
        return;
      }
      const code = (err as { code?: string }).code;
      throw new WritError(
        code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'ERR_UPSTREAM_TIMEOUT' : 'ERR_UPSTREAM_UNAVAILABLE',
        `${code ?? ''} ${String(err)}`,
      );
    }
    this.#deps.audit.call(state, { decision: 'allow', reason: 'allowed', status, grants });
  }

  #pool(resource: Resource): Pool {
    let pool = this.#pools.get(resource.id);
    if (pool === undefined) {
      pool = new Pool(new URL(resource.baseUrl).origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });
      this.#pools.set(resource.id, pool);
    }
    return pool;
  }

  #deny(req: IncomingMessage, res: ServerResponse, state: CallState, err: WritError): void {
    this.#deps.audit.call(state, {
      decision: 'deny',
      reason: err.code,
      status: ERROR_CODES[err.code].status,
      grants: [],
      detail: err.detail ?? '',
    });
    const metadata =
      state.resourceId === undefined
        ? undefined
        : `${this.#deps.publicUrl}${PATHS.protectedResourceMetadata}${PATHS.httpResourcePrefix}${state.resourceId}`;
    writeDenial(res, err.code, {
      algs: this.#deps.dpopAlgs,
      resourceMetadata: metadata,
      ...(this.#deps.nonces !== undefined ? { nonce: this.#deps.nonces.current() } : {}),
    });
    // Drain what the client still sends so the connection can be reused, but never more than the body limit.
    if (!req.complete) req.resume();
  }
}

/**
 * Request headers never forwarded: the agent's own credentials (Writ injects the upstream's), cookies (upstream
 * sessions are credentials too), `host` (set for the upstream by the client), and Writ's trace header (replaced).
 */
const STRIPPED_REQUEST_HEADERS = new Set([
  'authorization',
  'dpop',
  'proxy-authorization',
  'cookie',
  'host',
  'traceparent',
  'tracestate',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
]);

function filterResponseHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionListed(h['connection']);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined || isHopByHop(name, listed)) continue;
    out[name] = value;
  }
  return out;
}

class BodyLimit extends Transform {
  readonly #max: number;
  #seen = 0;
  exceeded = false;
  constructor(max: number) {
    super();
    this.#max = max;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#max) {
      this.exceeded = true;
      cb(new WritError('ERR_BODY_TOO_LARGE'));
      return;
    }
    cb(null, chunk);
  }
}
