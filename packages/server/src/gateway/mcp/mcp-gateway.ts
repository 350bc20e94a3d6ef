/**
 * The MCP gateway: `/mcp/{resource}` speaks MCP Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25) to agents and
 * relays each session over its own upstream connection. Every HTTP request is authenticated with the shared per-call
 * check from @writ/verify (DPoP task token for this MCP resource, proof, revocation); every JSON-RPC request is then
 * decided on its own (authorize-mcp-message.ts): `tools/list` is filtered to what the task may call, each
 * `tools/call` is checked against the task's authorization details (tool and arguments) and the call-time grants,
 * and leaves one audit event with the tool, the decision, the reason and a digest of the arguments. The agent's
 * token never reaches the upstream: the upstream gets the credential Writ injects, and `traceparent`.
 *
 * Like the HTTP gateway it runs on raw `node:http`, beside Fastify.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_CODES, PATHS, WritError, type ErrorCode, type TaskTokenClaims } from '@writ/protocol';
import {
  checkCall,
  matchMcpPromptGet,
  matchMcpToolCall,
  mcpPromptPermitted,
  mcpResourcePermitted,
  mcpToolPermitted,
  type CheckCallContext,
  type DpopNonces,
} from '@writ/verify';
import type { Agent, Resource } from '../../register/index.js';
import { mcpPromptRequest, mcpResourceRequest, mcpToolRequest, type CallDecisionCache, type CedarRequest } from '../../policy/index.js';
import { traceFrom, type Logger } from '../../observability/index.js';
import { canonicalJson } from '../../audit/index.js';
import { sha256Hex } from '../../crypto/index.js';
import { headerValues } from '../header-values.js';
import { writeDenial } from '../write-denial.js';
import type { CallState, GatewayAudit } from '../gateway-audit.js';
import { classifyMessage, JsonRpcShapeError, RPC, rpcError, rpcResult, type ClassifiedMessage, type JsonRpcId } from './json-rpc.js';
import { methodRule, RELAYED_NOTIFICATIONS } from './authorize-mcp-message.js';
import { McpSession, type SessionBinding } from './mcp-session.js';
import { SseWriter } from './sse.js';
import { UpstreamError, type JsonRpcMessage, type UpstreamConnection } from './upstream/upstream-connection.js';

/** Protocol revisions served with sessions; the header is optional before 2025-06-18 (MCP: assume 2025-03-26). */
export const SESSION_PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;
/** The sessionless revision: every POST stands alone and names its method (and tool) in headers. */
export const MODERN_VERSION = '2026-07-28';
/** What Writ speaks to upstreams for a sessionless agent: the newest revision with sessions. */
const UPSTREAM_VERSION_FOR_MODERN = '2025-11-25';

export interface McpGatewayDeps {
  publicUrl: string;
  check: Omit<CheckCallContext, 'audience'>;
  resources: { get(id: string): Resource | undefined };
  agents: { get(id: string): Agent | undefined };
  entitiesVersion(): string;
  decisions: CallDecisionCache;
  audit: GatewayAudit;
  /** Opens a fresh upstream connection for one agent session. */
  connect(resource: Resource): Promise<UpstreamConnection>;
  maxBodyBytes: number;
  /** An upstream request with neither an answer nor progress for this long is answered with a timeout error. */
  requestTimeoutMs: number;
  ready(): boolean;
  dpopAlgs: readonly string[];
  nonces?: DpopNonces;
  /** A session unused this long is closed. */
  sessionIdleMs: number;
  maxSessions: number;
  /** Each session may hold an upstream process: one task may not open more than this many. */
  maxSessionsPerTask: number;
  logger: Logger;
  now?: () => number;
}

interface Caller {
  claims: TaskTokenClaims;
  /** null: a bearer call (the resource allows them). */
  jkt: string | null;
  agent: Agent;
  resource: Resource;
  audience: string;
}

/** A JSON-RPC level refusal: answered in the JSON-RPC error, audited with the Writ code. */
class RpcDenial extends Error {
  readonly code: ErrorCode;
  readonly rpcCode: number;
  readonly detail: string;
  constructor(code: ErrorCode, rpcCode: number, detail: string) {
    super(ERROR_CODES[code].message);
    this.code = code;
    this.rpcCode = rpcCode;
    this.detail = detail;
  }
}

const MAX_TOOL_PAGES = 20;

export class McpGateway {
  readonly #deps: McpGatewayDeps;
  readonly #sessions = new Map<string, McpSession>();
  /** Upstream sessions held for sessionless (2026-07-28) agents; never reachable by an Mcp-Session-Id. */
  readonly #stateless = new Map<string, McpSession>();
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;

  constructor(deps: McpGatewayDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#sweep = setInterval(() => this.#closeIdle(), Math.min(60_000, deps.sessionIdleMs)).unref();
  }

  /** Open sessions, for /readyz: those agents opened, and those Writ holds for sessionless agents. */
  get sessionCounts(): { sessions: number; sessionless: number } {
    return { sessions: this.#sessions.size, sessionless: this.#stateless.size };
  }

  /**
   * After a revocation: close every session whose last token it hits, so a revoked task's open streams are cut now
   * rather than at its next request.
   */
  revoked(): void {
    const revocations = this.#deps.check.revocations;
    for (const s of [...this.#sessions.values(), ...this.#stateless.values()]) {
      if (s.claims !== undefined && revocations.check(s.claims, s.binding.jkt ?? '') !== null) void s.close();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    await Promise.all([...this.#sessions.values(), ...this.#stateless.values()].map((s) => s.close()));
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
      const e =
        err instanceof WritError
          ? err
          : err instanceof UpstreamError
            ? new WritError(err.code, err.message)
            : new WritError('ERR_INTERNAL', String((err as Error)?.stack ?? err));
      if (e.code === 'ERR_INTERNAL')
        this.#deps.logger.error({ err: e.detail, trace_id: state.trace.traceId }, 'mcp gateway internal error');
      this.#deny(req, res, state, e);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse, state: CallState): Promise<void> {
    const deps = this.#deps;
    if (!deps.ready()) throw new WritError('ERR_NOT_READY', 'enforcement point not ready');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const id = rawPath.slice(PATHS.mcpResourcePrefix.length);
    const resource = /^[a-z][a-z0-9-]{0,63}$/.test(id) ? deps.resources.get(id) : undefined;
    if (resource === undefined || resource.kind !== 'mcp')
      throw new WritError('ERR_RESOURCE_UNKNOWN', `mcp resource ${JSON.stringify(id.slice(0, 80))}`);
    state.resourceId = resource.id;
    // MCP Streamable HTTP: servers MUST validate Origin (DNS rebinding); agents are not browsers and send none.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== new URL(deps.publicUrl).origin)
      throw new WritError('ERR_ORIGIN_REFUSED', `origin ${origin.slice(0, 200)}`);
    const audience = `${deps.publicUrl}${PATHS.mcpResourcePrefix}${resource.id}`;
    const { claims, jkt } = await checkCall(
      {
        method: state.method,
        url: `${deps.publicUrl}${rawPath}`,
        authorization: headerValues(req, 'authorization'),
        dpop: headerValues(req, 'dpop'),
      },
      { ...deps.check, audience, acceptBearer: resource.mcp?.bearer.allowed === true },
    );
    state.claims = claims;
    const agent = deps.agents.get(claims.client_id);
    if (agent === undefined || agent.status !== 'active')
      throw new WritError('ERR_REVOKED_AGENT', `agent ${claims.client_id} is ${agent?.status ?? 'unknown'}`);
    const versions = headerValues(req, 'mcp-protocol-version');
    const version = versions[0];
    const caller: Caller = { claims, jkt, agent, resource, audience };
    if (version === MODERN_VERSION && versions.length === 1) {
      if (state.method !== 'POST') throw new WritError('ERR_MCP_HTTP_METHOD', `${state.method} is not part of MCP ${MODERN_VERSION}`);
      return this.#postModern(req, res, state, caller);
    }
    if (versions.length > 1 || (version !== undefined && !(SESSION_PROTOCOL_VERSIONS as readonly string[]).includes(version))) {
      state.action = '(unsupported version)';
      this.#deps.audit.call(state, {
        decision: 'deny',
        reason: 'ERR_MCP_PROTOCOL_VERSION',
        status: 400,
        grants: [],
        detail: `MCP-Protocol-Version ${String(version).slice(0, 40)}`,
      });
      const error = rpcError(null, RPC.unsupportedProtocolVersion, 'unsupported protocol version', {
        code: 'ERR_MCP_PROTOCOL_VERSION',
        supported: [...SESSION_PROTOCOL_VERSIONS, MODERN_VERSION],
      });
      return this.#json(res, 400, error, undefined);
    }
    if (state.method === 'POST') return this.#post(req, res, state, caller);
    if (state.method !== 'GET' && state.method !== 'DELETE') throw new WritError('ERR_MCP_HTTP_METHOD', `method ${state.method}`);
    const session = this.#session(req, caller);
    if (state.method === 'DELETE') {
      state.action = 'session';
      await session.close();
      this.#deps.audit.call(state, { decision: 'allow', reason: 'session_ended', status: 200, grants: [] });
      res.writeHead(200, this.#headers()).end();
      return;
    }
    return this.#get(req, res, state, session);
  }

  /** The POST's one JSON-RPC message; undefined when it was refused (answered and audited here). */
  async #readMessage(req: IncomingMessage, res: ServerResponse, state: CallState): Promise<ClassifiedMessage | undefined> {
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('application/json')) throw new WritError('ERR_MCP_MESSAGE_INVALID', `content-type ${type.slice(0, 80)}`);
    const body = await readBody(req, this.#deps.maxBodyBytes);
    try {
      return classifyMessage(JSON.parse(body) as unknown);
    } catch (err) {
      const detail = err instanceof JsonRpcShapeError ? err.message : 'invalid JSON';
      state.action = '(invalid)';
      this.#deps.audit.call(state, { decision: 'deny', reason: 'ERR_MCP_MESSAGE_INVALID', status: 400, grants: [], detail });
      const id = err instanceof JsonRpcShapeError ? err.id : null;
      this.#json(res, 400, rpcError(id, err instanceof JsonRpcShapeError ? RPC.invalidRequest : RPC.parseError, detail), undefined);
      return undefined;
    }
  }

  /** The caller's session: it must exist and belong to the same task, agent and key. */
  #session(req: IncomingMessage, caller: Caller): McpSession {
    const sid = req.headers['mcp-session-id'];
    if (typeof sid !== 'string' || sid === '') throw new WritError('ERR_MCP_SESSION_REQUIRED', 'no Mcp-Session-Id');
    const s = this.#sessions.get(sid);
    const b = s?.binding;
    if (
      s === undefined ||
      s.closed ||
      b?.resourceId !== caller.resource.id ||
      b.taskId !== caller.claims.task_id ||
      b.clientId !== caller.claims.client_id ||
      b.jkt !== caller.jkt
    ) {
      throw new WritError('ERR_MCP_SESSION_UNKNOWN', 'no such session for this task');
    }
    s.lastUsed = this.#now();
    s.claims = caller.claims;
    return s;
  }

  async #post(req: IncomingMessage, res: ServerResponse, state: CallState, caller: Caller): Promise<void> {
    const msg = await this.#readMessage(req, res, state);
    if (msg === undefined) return;
    if (msg.kind === 'request' && msg.method === 'initialize') {
      if (req.headers['mcp-session-id'] !== undefined) throw new WritError('ERR_MCP_MESSAGE_INVALID', 'initialize inside a session');
      return this.#initialize(res, state, caller, msg);
    }
    const session = this.#session(req, caller);
    if (msg.kind === 'notification') {
      state.action = msg.method;
      let out: JsonRpcMessage | undefined = RELAYED_NOTIFICATIONS.has(msg.method) ? msg.message : undefined;
      if (msg.method === 'notifications/cancelled') out = session.cancelledFor(msg.params?.['requestId']);
      if (out !== undefined) await session.upstream.send(out, { traceparent: state.trace.traceparent }).catch(() => undefined);
      res.writeHead(202, this.#headers(session)).end();
      return;
    }
    if (msg.kind === 'response') {
      if (!session.takeServerRequest(msg.id)) throw new WritError('ERR_MCP_UNEXPECTED_RESPONSE', `id ${String(msg.id).slice(0, 80)}`);
      await session.upstream.send(msg.message, { traceparent: state.trace.traceparent });
      res.writeHead(202, this.#headers(session)).end();
      return;
    }
    await this.#request(req, res, state, caller, session, msg);
  }

  /**
   * MCP 2026-07-28: no handshake and no session; each POST carries its protocol version in `_meta` and names its
   * method (and, for calls, the tool, resource or prompt) in `Mcp-Method`/`Mcp-Name`. A gateway that authorized on
   * headers while the server read the body could be bypassed, so both must say the same, or the request is refused
   * (400, -32020) before anything else. Upstreams keep their sessions: Writ holds one per task and key.
   */
  async #postModern(req: IncomingMessage, res: ServerResponse, state: CallState, caller: Caller): Promise<void> {
    const msg = await this.#readMessage(req, res, state);
    if (msg === undefined) return;
    const mismatch = headerMismatch(req, msg);
    if (mismatch !== undefined) {
      state.action = msg.kind === 'response' ? '(response)' : msg.method;
      this.#deps.audit.call(state, { decision: 'deny', reason: 'ERR_MCP_HEADER_MISMATCH', status: 400, grants: [], detail: mismatch });
      const id = msg.kind === 'notification' ? null : msg.id;
      this.#json(
        res,
        400,
        rpcError(id, RPC.headerMismatch, 'header mismatch', { code: 'ERR_MCP_HEADER_MISMATCH', detail: mismatch }),
        undefined,
      );
      return;
    }
    if (msg.kind === 'response') throw new WritError('ERR_MCP_UNEXPECTED_RESPONSE', 'responses have no session to go to');
    const session = await this.#statelessSession(caller, msg, state);
    if (msg.kind === 'notification') {
      state.action = msg.method;
      const out = msg.method === 'notifications/cancelled' ? session.cancelledFor(msg.params?.['requestId']) : undefined;
      if (out !== undefined) await session.upstream.send(out, { traceparent: state.trace.traceparent }).catch(() => undefined);
      res.writeHead(202, this.#headers()).end();
      return;
    }
    if (msg.method === 'initialize') throw new WritError('ERR_MCP_MESSAGE_INVALID', `MCP ${MODERN_VERSION} has no initialize`);
    await this.#request(req, res, state, caller, session, msg, true);
  }

  /** The upstream session Writ keeps for a sessionless agent: one per resource, task and key, opened on first use. */
  async #statelessSession(caller: Caller, msg: ClassifiedMessage, state: CallState): Promise<McpSession> {
    const key = `${caller.resource.id}\0${caller.claims.task_id}\0${caller.jkt ?? 'bearer'}\0${caller.claims.client_id}`;
    const existing = this.#stateless.get(key);
    if (existing !== undefined && !existing.closed) {
      existing.lastUsed = this.#now();
      existing.claims = caller.claims;
      return existing;
    }
    if (this.#sessions.size + this.#stateless.size >= this.#deps.maxSessions)
      throw new WritError('ERR_NOT_READY', 'MCP session limit reached');
    const binding: SessionBinding = {
      resourceId: caller.resource.id,
      taskId: caller.claims.task_id,
      clientId: caller.claims.client_id,
      jkt: caller.jkt,
    };
    const session = new McpSession(
      randomBytes(24).toString('base64url'),
      binding,
      await this.#deps.connect(caller.resource),
      this.#deps.logger,
      this.#now(),
      this.#deps.requestTimeoutMs,
    );
    session.claims = caller.claims;
    const meta = (msg.kind !== 'response' ? msg.params?.['_meta'] : undefined) as Record<string, unknown> | undefined;
    const { roots: _roots, ...capabilities } = (meta?.['io.modelcontextprotocol/clientCapabilities'] ?? {}) as Record<string, unknown>;
    session.clientCapabilities = capabilities;
    const clientInfo = meta?.['io.modelcontextprotocol/clientInfo'] ?? { name: 'writ-gateway', version: '1.0.0' };
    const answer = await session.request(
      { jsonrpc: '2.0', method: 'initialize', params: { protocolVersion: UPSTREAM_VERSION_FOR_MODERN, capabilities, clientInfo } },
      null,
      state.trace.traceparent,
      () => undefined,
    );
    const result = answer['result'] as Record<string, unknown> | undefined;
    if (result === undefined || typeof result['protocolVersion'] !== 'string') {
      await session.close();
      throw new WritError('ERR_UPSTREAM_UNAVAILABLE', 'initialize failed upstream');
    }
    session.protocolVersion = result['protocolVersion'];
    session.serverInitialize = result;
    await session.upstream.send({ jsonrpc: '2.0', method: 'notifications/initialized' }, { traceparent: state.trace.traceparent });
    this.#stateless.set(key, session);
    session.onClose = () => {
      if (this.#stateless.get(key) === session) this.#stateless.delete(key);
    };
    return session;
  }

  async #initialize(
    res: ServerResponse,
    state: CallState,
    caller: Caller,
    msg: Extract<ClassifiedMessage, { kind: 'request' }>,
  ): Promise<void> {
    state.action = 'initialize';
    if (this.#sessions.size >= this.#deps.maxSessions) throw new WritError('ERR_NOT_READY', 'MCP session limit reached');
    let ofTask = 0;
    for (const s of this.#sessions.values()) if (s.binding.taskId === caller.claims.task_id) ofTask++;
    if (ofTask >= this.#deps.maxSessionsPerTask)
      throw new WritError('ERR_MCP_SESSION_LIMIT', `task ${caller.claims.task_id} has ${ofTask} sessions`);
    const upstream = await this.#deps.connect(caller.resource);
    const binding: SessionBinding = {
      resourceId: caller.resource.id,
      taskId: caller.claims.task_id,
      clientId: caller.claims.client_id,
      jkt: caller.jkt,
    };
    const session = new McpSession(
      randomBytes(24).toString('base64url'),
      binding,
      upstream,
      this.#deps.logger,
      this.#now(),
      this.#deps.requestTimeoutMs,
    );
    session.claims = caller.claims;
    // The agent's roots never reach the upstream (a filesystem server would take them as its allowed directories).
    const params = { ...(msg.params ?? {}) };
    const { roots: _roots, ...capabilities } = (params['capabilities'] ?? {}) as Record<string, unknown>;
    params['capabilities'] = capabilities;
    session.clientCapabilities = capabilities;
    const answer = await session.request({ ...msg.message, params }, msg.id, state.trace.traceparent, () => undefined);
    const result = answer['result'] as { protocolVersion?: unknown } | undefined;
    if (result === undefined || typeof result.protocolVersion !== 'string') {
      await session.close();
      this.#deps.audit.call(state, {
        decision: 'deny',
        reason: 'ERR_UPSTREAM_UNAVAILABLE',
        status: 502,
        grants: [],
        detail: 'initialize failed upstream',
      });
      this.#json(res, 200, answer, undefined);
      return;
    }
    session.protocolVersion = result.protocolVersion;
    session.serverInitialize = result;
    this.#sessions.set(session.id, session);
    session.onClose = () => this.#sessions.delete(session.id);
    this.#deps.audit.call(state, {
      decision: 'allow',
      reason: 'allowed',
      status: 200,
      grants: [],
      data: { rpc_method: 'initialize', session: session.tag, protocol_version: session.protocolVersion },
    });
    this.#json(res, 200, answer, session);
  }

  async #request(
    req: IncomingMessage,
    res: ServerResponse,
    state: CallState,
    caller: Caller,
    session: McpSession,
    msg: Extract<ClassifiedMessage, { kind: 'request' }>,
    modern = false,
  ): Promise<void> {
    state.action = msg.method;
    const data: Record<string, unknown> = {
      rpc_method: msg.method,
      session: session.tag,
      ...(modern ? { protocol_version: MODERN_VERSION } : {}),
    };
    // Sessionless clients are never told an id: there is no session for them to name.
    const shown = modern ? undefined : session;
    let grants: string[] = [];
    const rule = methodRule(msg.method);
    try {
      if (rule === undefined) throw new RpcDenial('ERR_MCP_METHOD_NOT_ALLOWED', RPC.methodNotFound, `method ${msg.method.slice(0, 128)}`);
      if (rule === 'refuse') throw new RpcDenial('ERR_MCP_METHOD_NOT_ALLOWED', RPC.forbidden, `${msg.method} is not granted to any task`);
      if (rule === 'local-ping') return this.#json(res, 200, rpcResult(msg.id, {}), shown);
      if (rule === 'discover') {
        if (!modern) throw new RpcDenial('ERR_MCP_METHOD_NOT_ALLOWED', RPC.methodNotFound, 'server/discover is a 2026-07-28 method');
        this.#deps.audit.call(state, { decision: 'allow', reason: 'allowed', status: 200, grants, data });
        return this.#json(res, 200, rpcResult(msg.id, discoverResult(session)), undefined);
      }
      if (rule === 'tools-call') grants = await this.#authorizeToolCall(state, caller, session, msg, data);
      if (rule === 'resource-read') grants = await this.#authorizeResourceRead(state, caller, msg, data);
      if (rule === 'prompt-get') grants = await this.#authorizePromptGet(state, caller, msg, data);
    } catch (err) {
      if (!(err instanceof RpcDenial)) throw err;
      this.#deps.audit.call(state, {
        decision: 'deny',
        reason: err.code,
        status: ERROR_CODES[err.code].status,
        grants: [],
        detail: err.detail,
        data,
      });
      // MCP 2026-07-28: an unknown method is a 404; before it, JSON-RPC errors travel with 200.
      const status = modern && err.rpcCode === RPC.methodNotFound ? 404 : 200;
      return this.#json(res, status, rpcError(msg.id, err.rpcCode, err.message, { code: err.code }), shown);
    }

    const streaming = String(req.headers.accept ?? '').includes('text/event-stream');
    const sse = streaming ? new SseWriter(res, this.#headers(shown), false) : undefined;
    let finished = false;
    if (modern) {
      // 2026-07-28: closing the response stream cancels the request.
      res.on('close', () => {
        const cancel = finished ? undefined : session.cancelledFor(msg.id);
        if (cancel !== undefined) void session.upstream.send(cancel, { traceparent: state.trace.traceparent }).catch(() => undefined);
      });
    }
    let answer = await session.request(msg.message, msg.id, state.trace.traceparent, (m) => sse?.send(m));
    finished = true;
    if (msg.method === 'tools/list') answer = this.#filterTools(answer, caller, session, data);
    if (rule === 'resources-list' || rule === 'templates-list' || rule === 'prompts-list') answer = filterList(answer, rule, caller, data);
    answer = modernize(answer, msg.method, modern);
    const failed = answer['error'] !== undefined;
    this.#deps.audit.call(state, {
      decision: 'allow',
      reason: failed ? 'upstream_error' : 'allowed',
      status: 200,
      grants,
      data,
    });
    if (sse !== undefined) {
      sse.send(answer);
      sse.end();
    } else this.#json(res, 200, answer, shown);
  }

  async #authorizeToolCall(
    state: CallState,
    caller: Caller,
    session: McpSession,
    msg: Extract<ClassifiedMessage, { kind: 'request' }>,
    data: Record<string, unknown>,
  ): Promise<string[]> {
    const name = msg.params?.['name'];
    const args = msg.params?.['arguments'];
    if (typeof name !== 'string') throw new RpcDenial('ERR_MCP_MESSAGE_INVALID', RPC.invalidParams, 'tools/call without a tool name');
    data['tool'] = name.slice(0, 128);
    data['arguments_digest'] = sha256Hex(canonicalJson(args ?? {}));
    state.action = `tools/call ${name.slice(0, 128)}`;
    // Only a tool the upstream itself lists, by its exact name: a case or look-alike variant never reaches it.
    const known = session.knownTools ?? (await this.#loadTools(session, state));
    if (!known.has(name))
      throw new RpcDenial('ERR_MCP_TOOL_UNKNOWN', RPC.invalidParams, `unknown tool ${JSON.stringify(name.slice(0, 128))}`);
    if (!matchMcpToolCall(caller.claims.authorization_details, { resource: caller.audience, tool: name, arguments: args })) {
      throw new RpcDenial(
        'ERR_ACTION_NOT_AUTHORIZED',
        RPC.forbidden,
        `tools/call ${name} with these arguments is not in the task's authorization_details`,
      );
    }
    return this.#callTimeGrant(caller, (common) => mcpToolRequest({ ...common, tool: name }));
  }

  async #authorizeResourceRead(
    state: CallState,
    caller: Caller,
    msg: Extract<ClassifiedMessage, { kind: 'request' }>,
    data: Record<string, unknown>,
  ): Promise<string[]> {
    const uri = msg.params?.['uri'];
    if (typeof uri !== 'string') throw new RpcDenial('ERR_MCP_MESSAGE_INVALID', RPC.invalidParams, `${msg.method} without a uri`);
    data['uri'] = uri.slice(0, 512);
    state.action = `${msg.method} ${uri.slice(0, 256)}`;
    if (!mcpResourcePermitted(caller.claims.authorization_details, caller.audience, uri)) {
      throw new RpcDenial(
        'ERR_ACTION_NOT_AUTHORIZED',
        RPC.forbidden,
        `${msg.method} ${uri.slice(0, 256)} is not in the task's authorization_details`,
      );
    }
    return this.#callTimeGrant(caller, (common) => mcpResourceRequest({ ...common, uri }));
  }

  async #authorizePromptGet(
    state: CallState,
    caller: Caller,
    msg: Extract<ClassifiedMessage, { kind: 'request' }>,
    data: Record<string, unknown>,
  ): Promise<string[]> {
    const name = msg.params?.['name'];
    const args = msg.params?.['arguments'];
    if (typeof name !== 'string') throw new RpcDenial('ERR_MCP_MESSAGE_INVALID', RPC.invalidParams, 'prompts/get without a name');
    data['prompt'] = name.slice(0, 128);
    data['arguments_digest'] = sha256Hex(canonicalJson(args ?? {}));
    state.action = `prompts/get ${name.slice(0, 128)}`;
    if (!matchMcpPromptGet(caller.claims.authorization_details, { resource: caller.audience, prompt: name, arguments: args })) {
      throw new RpcDenial(
        'ERR_ACTION_NOT_AUTHORIZED',
        RPC.forbidden,
        `prompts/get ${name.slice(0, 128)} with these arguments is not in the task's authorization_details`,
      );
    }
    return this.#callTimeGrant(caller, (common) => mcpPromptRequest({ ...common, prompt: name }));
  }

  /** The call-time grants, through the call-decision cache; anything but allow is a refusal. */
  async #callTimeGrant(
    caller: Caller,
    build: (common: Omit<Parameters<typeof mcpToolRequest>[0], 'tool'>) => CedarRequest,
  ): Promise<string[]> {
    const [idp, ...subParts] = caller.claims.sub.split(':');
    const a = caller.agent;
    const pending = this.#deps.decisions.decide(
      build({
        agent: { id: a.id, name: a.name, owner: a.owner, kind: a.kind, status: a.status },
        user: { idp: idp ?? '', sub: subParts.join(':') },
        resource: { id: caller.resource.id, kind: caller.resource.kind, name: caller.resource.id },
        purpose: caller.claims.purpose ?? '',
        depth: caller.claims.task_chain.length,
      }),
      this.#deps.entitiesVersion(),
    );
    const decision = pending instanceof Promise ? await pending : pending;
    if (decision.decision !== 'allow') {
      throw new RpcDenial(
        'ERR_POLICY_DENIED',
        RPC.forbidden,
        decision.errors.length > 0 ? `policy errors: ${decision.errors.join('; ')}` : 'no grant permits this call',
      );
    }
    return decision.reasons;
  }

  /** Every tool the upstream lists, all pages, asked by the gateway itself. */
  async #loadTools(session: McpSession, state: CallState): Promise<Set<string>> {
    const names = new Set<string>();
    let cursor: unknown;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const result = await session.ownRequest('tools/list', cursor === undefined ? {} : { cursor }, state.trace.traceparent);
      for (const t of Array.isArray(result['tools']) ? (result['tools'] as unknown[]) : []) {
        const n = (t as { name?: unknown } | null)?.name;
        if (typeof n === 'string') names.add(n);
      }
      cursor = result['nextCursor'];
      if (typeof cursor !== 'string') break;
    }
    session.knownTools = names;
    return names;
  }

  #filterTools(answer: JsonRpcMessage, caller: Caller, session: McpSession, data: Record<string, unknown>): JsonRpcMessage {
    const result = answer['result'] as { tools?: unknown } | undefined;
    if (result === undefined || !Array.isArray(result.tools)) return answer;
    const all = result.tools as { name?: unknown }[];
    const known = session.knownTools ?? new Set<string>();
    for (const t of all) if (typeof t.name === 'string') known.add(t.name);
    session.knownTools = known;
    const shown = all.filter(
      (t) => typeof t.name === 'string' && mcpToolPermitted(caller.claims.authorization_details, caller.audience, t.name),
    );
    data['listed'] = shown.length;
    data['hidden'] = all.length - shown.length;
    return { ...answer, result: { ...result, tools: shown } };
  }

  async #get(req: IncomingMessage, res: ServerResponse, state: CallState, session: McpSession): Promise<void> {
    state.action = 'stream';
    if (!String(req.headers.accept ?? '').includes('text/event-stream'))
      throw new WritError('ERR_MCP_MESSAGE_INVALID', 'GET needs Accept: text/event-stream');
    if (!session.attachGetStream(new SseWriter(res, this.#headers(session)))) {
      throw new WritError('ERR_MCP_STREAM_CONFLICT', 'a GET stream is already open for this session');
    }
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), 25_000).unref();
    res.on('close', () => clearInterval(keepalive));
    this.#deps.audit.call(state, {
      decision: 'allow',
      reason: 'allowed',
      status: 200,
      grants: [],
      data: { rpc_method: 'GET', session: session.tag },
    });
  }

  #headers(session?: McpSession): Record<string, string> {
    const h: Record<string, string> = {};
    if (session !== undefined) h['mcp-session-id'] = session.id;
    if (this.#deps.nonces !== undefined) h['dpop-nonce'] = this.#deps.nonces.current();
    return h;
  }

  #json(res: ServerResponse, status: number, body: JsonRpcMessage, session: McpSession | undefined): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...this.#headers(session),
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  }

  #closeIdle(): void {
    const cutoff = this.#now() - this.#deps.sessionIdleMs;
    for (const s of [...this.#sessions.values(), ...this.#stateless.values()]) if (s.lastUsed < cutoff) void s.close();
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
        : `${this.#deps.publicUrl}${PATHS.protectedResourceMetadata}${PATHS.mcpResourcePrefix}${state.resourceId}`;
    writeDenial(res, err.code, {
      algs: this.#deps.dpopAlgs,
      resourceMetadata: metadata,
      ...(this.#deps.nonces !== undefined ? { nonce: this.#deps.nonces.current() } : {}),
    });
    if (!req.complete) req.resume();
  }
}

/** Methods whose target travels in `Mcp-Name` (MCP 2026-07-28), and the params member it mirrors. */
const NAMED_METHODS: Readonly<Record<string, 'name' | 'uri'>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/** Why the request metadata headers disagree with the body, or undefined when they agree (MCP 2026-07-28). */
function headerMismatch(req: IncomingMessage, msg: ClassifiedMessage): string | undefined {
  if (msg.kind === 'response') return undefined;
  const methods = headerValues(req, 'mcp-method');
  if (methods.length !== 1)
    return msg.kind === 'request' || methods.length > 1 ? `Mcp-Method header ${methods.length === 0 ? 'missing' : 'repeated'}` : undefined;
  if (decodeHeaderValue(methods[0] as string) !== msg.method) return 'Mcp-Method does not match the method';
  const member = NAMED_METHODS[msg.method];
  const names = headerValues(req, 'mcp-name');
  if (member !== undefined) {
    if (names.length !== 1) return `Mcp-Name header ${names.length === 0 ? 'missing' : 'repeated'}`;
    const target = msg.params?.[member];
    if (typeof target !== 'string' || decodeHeaderValue(names[0] as string) !== target) return `Mcp-Name does not match params.${member}`;
  } else if (names.length > 0) return 'Mcp-Name on a method that names nothing';
  if (msg.kind === 'request') {
    const meta = msg.params?.['_meta'] as Record<string, unknown> | undefined;
    if (meta?.['io.modelcontextprotocol/protocolVersion'] !== MODERN_VERSION)
      return '_meta protocolVersion does not match MCP-Protocol-Version';
  }
  return undefined;
}

/** MCP 2026-07-28 header values: plain ASCII, or `=?base64?<base64 of UTF-8>?=` for anything else. */
function decodeHeaderValue(v: string): string | undefined {
  const m = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(v.trim());
  if (m === null) return v.trim();
  const bytes = Buffer.from(m[1] as string, 'base64');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  // A value that does not round-trip was not base64 of UTF-8: it matches nothing.
  return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

/** Resource, template and prompt lists, filtered to what the task may read or get (authorize-mcp-message.ts). */
function filterList(
  answer: JsonRpcMessage,
  rule: 'resources-list' | 'templates-list' | 'prompts-list',
  caller: Caller,
  data: Record<string, unknown>,
): JsonRpcMessage {
  const member = rule === 'resources-list' ? 'resources' : rule === 'templates-list' ? 'resourceTemplates' : 'prompts';
  const result = answer['result'] as Record<string, unknown> | undefined;
  if (result === undefined || !Array.isArray(result[member])) return answer;
  const details = caller.claims.authorization_details;
  const everyUri = details.some(
    (d) => d.type === 'mcp' && (d.resources ?? []).includes('*') && (d.locations ?? [caller.audience]).includes(caller.audience),
  );
  const keep = (item: Record<string, unknown>): boolean => {
    if (rule === 'resources-list') return mcpResourcePermitted(details, caller.audience, item['uri']);
    if (rule === 'templates-list') return everyUri;
    return typeof item['name'] === 'string' && mcpPromptPermitted(details, caller.audience, item['name']);
  };
  const all = result[member] as Record<string, unknown>[];
  const shown = all.filter((i) => typeof i === 'object' && i !== null && keep(i));
  data['listed'] = shown.length;
  data['hidden'] = all.length - shown.length;
  return { ...answer, result: { ...result, [member]: shown } };
}

/** The `server/discover` answer, from what the upstream said at initialize. */
function discoverResult(session: McpSession): Record<string, unknown> {
  const init = session.serverInitialize ?? {};
  return {
    supportedVersions: [MODERN_VERSION, ...[...SESSION_PROTOCOL_VERSIONS].reverse()],
    capabilities: init['capabilities'] ?? {},
    serverInfo: init['serverInfo'] ?? { name: 'writ-gateway', version: '1.0.0' },
    ...(typeof init['instructions'] === 'string' ? { instructions: init['instructions'] } : {}),
    ttlMs: 60_000,
    cacheScope: 'private',
  };
}

/**
 * Results for a 2026-07-28 client: `resultType`, and on list results `ttlMs`/`cacheScope`. A list Writ filtered
 * for one task is never `public`: another caller may see a different one.
 */
function modernize(answer: JsonRpcMessage, method: string, modern: boolean): JsonRpcMessage {
  const result = answer['result'];
  if (!modern || typeof result !== 'object' || result === null) return answer;
  const r = { resultType: 'complete', ...(result as Record<string, unknown>) };
  if (method.endsWith('/list')) Object.assign(r, { ttlMs: 60_000, cacheScope: 'private' });
  return { ...answer, result: r };
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) throw new WritError('ERR_BODY_TOO_LARGE', `content-length ${declared}`);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) throw new WritError('ERR_BODY_TOO_LARGE', `more than ${max} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

export type { JsonRpcId };
