/**
 * The HTTP gateway: `/r/{resource}/...`. The steps every gateway call shares (resource, per-call check, active
 * agent, call-time grants, one audit event) are enforce-call.ts; what is HTTP's own is here: the canonical path, a
 * killed action (`writ revoke tool api 'DELETE /v1/**'`), the token's `http` authorization details, the body limit, and forwarding with the agent's credentials stripped and the
 * vault's injected.
 *
 * It runs on raw `node:http` rather than a Fastify route: the per-call budget is a fraction of the ~100 µs DPoP
 * signature check (docs/benchmarks.md), and Fastify's routing and reply machinery would cost more than that.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { Pool } from 'undici';
import { PATHS, WritError } from '@writ/protocol';
import { matchAuthorizationDetails, normalizeRequestPath } from '@writ/verify';
import type { Resource } from '../../register/index.js';
import { applyInjection, VaultError, type SecretScrubber, type UpstreamCredential, type UpstreamCredentials } from '../../vault/index.js';
import { scrubbedAnswer, UnscrubbableError } from './scrubbed-answer.js';
import { connectionListed, isHopByHop } from './hop-by-hop.js';
import { CallEnforcer, type Caller, type EnforcementDeps } from '../enforce-call.js';
import type { CallState } from '../gateway-audit.js';
import type { UpstreamBudget, UpstreamLease } from '../upstream-budget.js';
import { EgressRefusedError, readBody, type EgressGuard } from '../../http/index.js';
import { sha256Hex } from '../../crypto/index.js';

export interface HttpGatewayDeps extends EnforcementDeps {
  /** The vault's answer to "what do I inject for this call", whatever kind of secret is behind it. */
  credentials: UpstreamCredentials;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  /** How much of an upstream one agent or task may hold: a call takes a lease for as long as it is forwarded. */
  budget: UpstreamBudget;
  /** Where upstream connections may go (http/egress-guard.ts). */
  egress: EgressGuard;
}

export class HttpGateway {
  readonly #deps: HttpGatewayDeps;
  readonly #enforcer: CallEnforcer;
  readonly #pools = new Map<string, Pool>();
  // Keyed by the resource object: a changed resource is a new object, so its base path is parsed again.
  readonly #basePaths = new WeakMap<Resource, string>();

  constructor(deps: HttpGatewayDeps) {
    this.#deps = deps;
    this.#enforcer = new CallEnforcer('http', deps);
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
    this.#enforcer.run(req, res, (state) => this.#handle(req, res, state));
  }

  async #handle(req: IncomingMessage, res: ServerResponse, state: CallState): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q);
    // `/r/{resource}` then the resource-relative path.
    const rest = rawPath.slice(PATHS.httpResourcePrefix.length);
    const slash = rest.indexOf('/');
    const resource = this.#enforcer.resolve(state, slash === -1 ? rest : rest.slice(0, slash));
    const caller = await this.#enforcer.authenticate(req, state, resource, rawPath);
    const path = normalizeRequestPath(slash === -1 ? '/' : rest.slice(slash));
    state.path = path;
    const killed = this.#deps.check.revocations.httpActionRevoked(resource.id, state.method, path);
    if (killed !== null) throw new WritError('ERR_REVOKED_TOOL', `${killed} is revoked`);
    if (!matchAuthorizationDetails(caller.claims.authorization_details, { resource: caller.audience, method: state.method, path })) {
      throw new WritError('ERR_ACTION_NOT_AUTHORIZED', `${state.method} ${path} not in the task's authorization_details`);
    }
    const grants = await this.#enforcer.grant(caller, { action: 'http', method: state.method, path });
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.#deps.maxBodyBytes)
      throw new WritError('ERR_BODY_TOO_LARGE', `content-length ${declared}`);
    const taken = await this.#enforcer.takeBudget(caller, grants, `${state.method} ${path}`);
    let held: HeldCall | undefined;
    let lease: UpstreamLease;
    try {
      held = await this.#approval(req, caller, grants, path, query);
      lease = this.#deps.budget.acquire(resource.id, { agentId: caller.claims.client_id, taskId: caller.claims.task_id });
    } catch (err) {
      // Held back for approval, or refused a share of the upstream: the call was not made, so it spends nothing.
      await taken?.giveBack();
      throw err;
    }
    try {
      await this.#forward(req, res, state, resource, path, query, grants, held);
    } finally {
      lease.release();
    }
  }

  /**
   * A call an `@approval` grant permits is held back until a person approved exactly it: method, canonical path,
   * query and body. The body is read whole for its digest (within the body limit) and sent upstream from memory.
   */
  async #approval(req: IncomingMessage, caller: Caller, grants: string[], path: string, query: string): Promise<HeldCall | undefined> {
    const rule = this.#enforcer.approvalRule(grants);
    if (rule === null) return undefined;
    const body = hasBody(req) ? await readBody(req, this.#deps.maxBodyBytes) : undefined;
    const approval = await this.#enforcer.holdForApproval(caller, rule, {
      action: req.method ?? 'GET',
      target: `${path}${query}`,
      arguments: body === undefined ? null : bodyForApproval(body),
    });
    return { approval, body };
  }

  async #forward(
    req: IncomingMessage,
    res: ServerResponse,
    state: CallState,
    resource: Resource,
    path: string,
    query: string,
    grants: string[],
    held: HeldCall | undefined,
  ): Promise<void> {
    const deps = this.#deps;
    // The write-ahead record is committed while the request is prepared; nothing is sent before it is.
    const written = deps.audit.allow(state, { grants, ...(held !== undefined ? { data: { approval: held.approval } } : {}) });
    written.catch(() => undefined); // awaited below; a refusal before then must not surface as unhandled
    const listed = connectionListed(req.headers.connection);
    const headers: Record<string, string> = {};
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      if (isHopByHop(name, listed) || STRIPPED_REQUEST_HEADERS.has(name)) continue;
      const value = raw[i + 1] as string;
      const seen = headers[name];
      headers[name] = seen === undefined ? value : `${seen}, ${value}`;
    }
    headers['traceparent'] = state.trace.traceparent;
    const withBody = hasBody(req);
    const limiter = withBody && held?.body === undefined ? new BodyLimit(deps.maxBodyBytes) : undefined;
    let prepared = await this.#inject(state, resource, headers, path, query);
    await written;
    const socket = res.socket;
    const sentBefore = socket?.bytesWritten ?? 0;
    const bytes = (): { in: number; out: number } => ({
      in: limiter?.seen ?? held?.body?.length ?? 0,
      out: (socket?.bytesWritten ?? 0) - sentBefore,
    });
    let status = 0;
    let refreshed = false;
    try {
      for (;;) {
        const { scrubber, credential } = prepared;
        // A minted credential the upstream refuses (401) is replaced once and the call sent again — only for a call
        // without a body, which can be sent twice; with a body, the 401 goes to the agent and the next call mints.
        const retry = !refreshed && !withBody && credential?.rejected !== undefined;
        let refused = false;
        // A decompressed answer is over when the agent's answer is, which is after undici is done.
        let decoded: Promise<void> | undefined;
        await this.#pool(resource).stream(
          {
            path: prepared.path,
            method: state.method,
            headers: prepared.headers,
            body: held?.body ?? (limiter === undefined ? null : req.pipe(limiter)),
            headersTimeout: deps.upstreamTimeoutMs,
            bodyTimeout: deps.upstreamTimeoutMs,
          },
          ({ statusCode, headers: upstreamHeaders }) => {
            if (statusCode === 401 && retry) {
              refused = true;
              return new Discard();
            }
            const answer = filterResponseHeaders(upstreamHeaders);
            const scrubbed =
              scrubber === undefined
                ? undefined
                : scrubbedAnswer(scrubber, answer, res, (found, where) => deps.audit.scrubbed(state, found, where));
            status = statusCode;
            const nonce = this.#enforcer.nonce();
            if (nonce !== undefined) answer['dpop-nonce'] = nonce;
            res.writeHead(statusCode, answer);
            decoded = scrubbed?.done;
            return scrubbed?.sink ?? res;
          },
        );
        await decoded;
        if (!refused) break;
        credential?.rejected?.();
        refreshed = true;
        prepared = await this.#inject(state, resource, { ...prepared.base }, path, query);
      }
    } catch (err) {
      if (limiter?.exceeded === true) throw new WritError('ERR_BODY_TOO_LARGE', `more than ${deps.maxBodyBytes} bytes`);
      if (err instanceof UnscrubbableError) throw new WritError('ERR_UPSTREAM_UNAVAILABLE', err.message);
      if (err instanceof WritError) throw err;
      if (status !== 0) {
        // The answer had started: all we can do is cut it, and say so in the audit log.
        res.destroy();
        this.#deps.audit.call(state, {
          decision: 'allow',
          reason: 'upstream_aborted',
          status,
          grants,
          detail: String(err),
          bytes: bytes(),
        });
        return;
      }
      const code = (err as { code?: string }).code;
      if (err instanceof EgressRefusedError) throw new WritError('ERR_EGRESS_REFUSED', err.message);
      throw new WritError(
        code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'ERR_UPSTREAM_TIMEOUT' : 'ERR_UPSTREAM_UNAVAILABLE',
        `${code ?? ''} ${String(err)}`,
      );
    }
    this.#deps.audit.call(state, {
      decision: 'allow',
      reason: 'allowed',
      status,
      grants,
      bytes: bytes(),
      ...(refreshed ? { data: { credential_refreshed: true } } : {}),
    });
  }

  /**
   * The request as it goes upstream: the vault's credential for this call put on a copy of `base` (the agent's
   * headers, cleaned), the path with the query as the agent wrote it unless a query-parameter injection rewrites it.
   */
  async #inject(
    state: CallState,
    resource: Resource,
    base: Record<string, string>,
    path: string,
    query: string,
  ): Promise<{
    base: Record<string, string>;
    headers: Record<string, string>;
    path: string;
    credential: UpstreamCredential | undefined;
    scrubber: SecretScrubber | undefined;
  }> {
    const rule = resource.inject;
    if (rule === null || resource.secretId === null)
      return { base, headers: base, path: `${this.#basePath(resource)}${path}${query}`, credential: undefined, scrubber: undefined };
    const c = state.claims;
    const headers = { ...base };
    let upstreamQuery = query;
    let credential: UpstreamCredential;
    try {
      credential = await this.#deps.credentials.forCall(
        resource.secretId,
        { userId: c?.sub ?? '', agentId: c?.client_id ?? '', taskId: c?.task_id ?? '' },
        rule.mode === 'bearer' || rule.mode === 'header' ? rule.mint : undefined,
      );
      if (rule.mode === 'query') {
        const searchParams = new URLSearchParams(query);
        applyInjection(rule, credential.value, { headers, searchParams });
        const qs = searchParams.toString();
        upstreamQuery = qs === '' ? '' : `?${qs}`;
      } else applyInjection(rule, credential.value, { headers, searchParams: NO_QUERY }, credential.username);
    } catch (err) {
      // A secret that is gone, or a rule and a secret that cannot form a request (an operator's mistake): refused,
      // and why is in the audit record.
      if (err instanceof VaultError) throw new WritError('ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE', `${err.code}: ${err.message}`);
      throw err;
    }
    const scrubber = credential.scrubber.empty ? undefined : credential.scrubber;
    // A compressed answer could carry the credential past the scrubber: ask for none (and decompress one anyway).
    if (scrubber !== undefined) headers['accept-encoding'] = 'identity';
    return { base, headers, path: `${this.#basePath(resource)}${path}${upstreamQuery}`, credential, scrubber };
  }

  /** The upstream base URL's path without trailing slashes, parsed once per resource version. */
  #basePath(resource: Resource): string {
    let base = this.#basePaths.get(resource);
    if (base === undefined) {
      base = new URL(resource.baseUrl).pathname.replace(/\/+$/, '');
      this.#basePaths.set(resource, base);
    }
    return base;
  }

  #pool(resource: Resource): Pool {
    let pool = this.#pools.get(resource.id);
    if (pool === undefined) {
      // As many connections as the budget admits calls, so an admitted call never waits in undici's queue.
      pool = new Pool(new URL(resource.baseUrl).origin, {
        connections: this.#deps.budget.shares.total,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connect: this.#deps.egress.connector({ timeout: 10_000 }),
      });
      this.#pools.set(resource.id, pool);
    }
    return pool;
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

/** A call an approval let through: which approval, and the body read for its digest (sent from memory). */
interface HeldCall {
  approval: string;
  body: Buffer | undefined;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/** How many characters of a text body an approver is shown. */
const SHOWN_BODY_CHARS = 4096;

/** A body as an approval binds it: its digest and size, and — when it is UTF-8 text — its beginning for the approver. */
function bodyForApproval(body: Buffer): Record<string, unknown> {
  const text = isUtf8(body) ? body.toString('utf8') : undefined;
  return {
    body_sha256: sha256Hex(body),
    body_bytes: body.length,
    ...(text !== undefined ? { body_text: text.slice(0, SHOWN_BODY_CHARS) } : {}),
  };
}

/** Never read: the target of an injection rule that does not touch the query. */
const NO_QUERY = new URLSearchParams();

function filterResponseHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionListed(h['connection']);
  const out: Record<string, string | string[]> = {};
  for (const name in h) {
    const value = h[name];
    if (value === undefined || isHopByHop(name, listed)) continue;
    out[name] = value;
  }
  return out;
}

/** Where the body of an answer that is not passed on goes (a 401 the call is retried after). */
class Discard extends Writable {
  override _write(_chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb();
  }
}

class BodyLimit extends Transform {
  readonly #max: number;
  #seen = 0;
  exceeded = false;
  constructor(max: number) {
    super();
    this.#max = max;
  }
  get seen(): number {
    return this.#seen;
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
