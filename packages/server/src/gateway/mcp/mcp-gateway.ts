/**
 * The MCP gateway: `/mcp/{resource}` speaks MCP Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25, and the
 * sessionless 2026-07-28) to agents and relays each session over its own upstream connection. The steps every gateway
 * call shares are enforce-call.ts; the parts that are MCP's own each live in a module of their own:
 *
 * - streamable-http.ts — the HTTP transport: one JSON-RPC message per POST, JSON or SSE answers, the GET stream;
 * - session-registry.ts — sessions agents open and those Writ holds for sessionless agents, set up one way;
 * - authorize-message.ts — the closed list of methods and the one path for tools, resources, prompts and lists;
 * - sessionless.ts — what 2026-07-28 adds: headers that must match the body, `server/discover`, result metadata.
 *
 * This file is the order they run in. The agent's token never reaches the upstream: the upstream gets the credential
 * Writ injects, and `traceparent`. Like the HTTP gateway it runs on raw `node:http`, beside Fastify.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PATHS, WritError } from '@writ/protocol';
import { headerValues, type RevocationEntry } from '@writ/verify/internal';
import { RPC, rpcError, type JsonRpcMessage } from '../../errors/index.js';
import type { CallPrincipal } from '../../vault/index.js';
import type { Resource } from '../../register/index.js';
import { CallEnforcer, type Caller, type EnforcementDeps } from '../enforce-call.js';
import type { CallState } from '../gateway-audit.js';
import { rpcResult, type ClassifiedMessage } from './json-rpc.js';
import { authorizeRequest, filterList, isListRule, listItems, methodRule, RELAYED_NOTIFICATIONS, RpcDenial } from './authorize-message.js';
import type { McpSession } from './mcp-session.js';
import { SessionRegistry } from './session-registry.js';
import { answerEmpty, answerJson, openGetStream, readMessage, RequestAnswer } from './streamable-http.js';
import {
  clientFromMeta,
  discoverResult,
  headerMismatch,
  modernize,
  MODERN_VERSION,
  SESSION_PROTOCOL_VERSIONS,
  UPSTREAM_VERSION_FOR_MODERN,
} from './sessionless.js';
import { upstreamFailure, type UpstreamConnection } from './upstream/upstream-connection.js';
import type { UpstreamBudget, UpstreamLease } from '../upstream-budget.js';

export interface McpGatewayDeps extends EnforcementDeps {
  /** What this node's session ids start with (`writ serve --workers`: the worker's slot). */
  sessionIdPrefix?: string;
  /** Opens a fresh upstream connection for one agent session. */
  connect(resource: Resource, principal?: CallPrincipal): Promise<UpstreamConnection>;
  maxBodyBytes: number;
  /** An upstream request with neither an answer nor progress for this long is answered with a timeout error. */
  requestTimeoutMs: number;
  /** A session unused this long is closed. */
  sessionIdleMs: number;
  maxSessions: number;
  /** Each session may hold an upstream process: one task may not open more than this many. */
  maxSessionsPerTask: number;
  /** Nor one agent, all its tasks together. */
  maxSessionsPerAgent: number;
  /**
   * How much of an upstream one agent or task may hold: every POST that reaches an upstream takes a lease until it
   * is answered, every GET stream for as long as it stays open.
   */
  budget: UpstreamBudget;
  now?: () => number;
}

type Request = Extract<ClassifiedMessage, { kind: 'request' }>;

const MAX_TOOL_PAGES = 20;

export class McpGateway {
  readonly #deps: McpGatewayDeps;
  readonly #enforcer: CallEnforcer;
  readonly #sessions: SessionRegistry;

  constructor(deps: McpGatewayDeps) {
    this.#deps = deps;
    this.#enforcer = new CallEnforcer('mcp', deps);
    this.#sessions = new SessionRegistry({
      connect: deps.connect,
      revocations: deps.check.revocations,
      requestTimeoutMs: deps.requestTimeoutMs,
      sessionIdleMs: deps.sessionIdleMs,
      maxSessions: deps.maxSessions,
      ...(deps.sessionIdPrefix !== undefined ? { sessionIdPrefix: deps.sessionIdPrefix } : {}),
      maxSessionsPerTask: deps.maxSessionsPerTask,
      maxSessionsPerAgent: deps.maxSessionsPerAgent,
      logger: deps.logger,
      ...(deps.now !== undefined ? { now: deps.now } : {}),
    });
  }

  /** Open sessions, for /readyz and metrics. */
  get sessionCounts(): { sessions: number; sessionless: number } {
    return this.#sessions.counts;
  }

  /**
   * After a revocation: cut the open sessions it hits now, not at their next request. A killed (or restored) tool
   * cuts nothing: the sessions of its resource are told their tool list changed.
   */
  revoked(entry: RevocationEntry): void {
    if (entry.target.type === 'tool') this.#sessions.toolsChanged(entry.target.resourceId);
    else this.#sessions.revoked();
  }

  async close(): Promise<void> {
    await this.#sessions.close();
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#enforcer.run(req, res, (state) => this.#handle(req, res, state));
  }

  async #handle(req: IncomingMessage, res: ServerResponse, state: CallState): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const resource = this.#enforcer.resolve(state, rawPath.slice(PATHS.mcpResourcePrefix.length));
    // MCP Streamable HTTP: servers MUST validate Origin (DNS rebinding); agents are not browsers and send none.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== new URL(this.#deps.publicUrl).origin)
      throw new WritError('ERR_ORIGIN_REFUSED', `origin ${origin.slice(0, 200)}`);
    const caller = await this.#enforcer.authenticate(req, state, resource, rawPath);
    const versions = headerValues(req.rawHeaders, 'mcp-protocol-version');
    const version = versions[0];
    if (version === MODERN_VERSION && versions.length === 1) {
      if (state.method !== 'POST') throw new WritError('ERR_MCP_HTTP_METHOD', `${state.method} is not part of MCP ${MODERN_VERSION}`);
      return this.#postSessionless(req, res, state, caller);
    }
    if (versions.length > 1 || (version !== undefined && !(SESSION_PROTOCOL_VERSIONS as readonly string[]).includes(version))) {
      state.action = '(unsupported version)';
      this.#enforcer.recordDenial(state, new WritError('ERR_MCP_PROTOCOL_VERSION', `MCP-Protocol-Version ${String(version).slice(0, 40)}`));
      const error = rpcError(null, RPC.unsupportedProtocolVersion, 'unsupported protocol version', {
        code: 'ERR_MCP_PROTOCOL_VERSION',
        supported: [...SESSION_PROTOCOL_VERSIONS, MODERN_VERSION],
      });
      return answerJson(res, 400, error, this.#headers());
    }
    if (state.method === 'POST') return this.#post(req, res, state, caller);
    if (state.method !== 'GET' && state.method !== 'DELETE') throw new WritError('ERR_MCP_HTTP_METHOD', `method ${state.method}`);
    const session = this.#sessions.find(req.headers['mcp-session-id'], caller);
    if (state.method === 'DELETE') {
      state.action = 'session';
      await this.#deps.audit.allow(state, { grants: [], data: { rpc_method: 'DELETE', session: session.tag } });
      await session.close();
      this.#deps.audit.call(state, { decision: 'allow', reason: 'session_ended', status: 200, grants: [] });
      return answerEmpty(res, 200, this.#headers());
    }
    state.action = 'stream';
    // Nothing is sent upstream for it (the stream carries what the upstream sends in this session): one record.
    openGetStream(req, res, session, this.#headers(session), () => this.#lease(caller));
    this.#deps.audit.call(state, {
      decision: 'allow',
      reason: 'allowed',
      status: 200,
      grants: [],
      data: { rpc_method: 'GET', session: session.tag },
    });
  }

  /** The POST's one message; undefined when it was not one (refused, audited and answered here). */
  async #message(req: IncomingMessage, res: ServerResponse, state: CallState): Promise<ClassifiedMessage | undefined> {
    const read = await readMessage(req, this.#deps.maxBodyBytes);
    if (read.ok) return read.message;
    state.action = '(invalid)';
    this.#enforcer.recordDenial(state, new WritError('ERR_MCP_MESSAGE_INVALID', read.detail));
    answerJson(res, 400, rpcError(read.id, read.rpcCode, read.detail), this.#headers());
    return undefined;
  }

  async #post(req: IncomingMessage, res: ServerResponse, state: CallState, caller: Caller): Promise<void> {
    const msg = await this.#message(req, res, state);
    if (msg === undefined) return;
    if (msg.kind === 'request' && msg.method === 'initialize') {
      if (req.headers['mcp-session-id'] !== undefined) throw new WritError('ERR_MCP_MESSAGE_INVALID', 'initialize inside a session');
      // The session bounds first: a caller over them is told so, whatever its share of the upstream.
      this.#sessions.admit(caller);
      return this.#holding(caller, () => this.#initialize(res, state, caller, msg));
    }
    const session = this.#sessions.find(req.headers['mcp-session-id'], caller);
    await this.#holding(caller, () => this.#inSession(req, res, state, caller, session, msg));
  }

  /** A notification, a response to the upstream's own request, or a request, in an agent's session. */
  async #inSession(
    req: IncomingMessage,
    res: ServerResponse,
    state: CallState,
    caller: Caller,
    session: McpSession,
    msg: ClassifiedMessage,
  ): Promise<void> {
    if (msg.kind === 'notification') {
      state.action = msg.method;
      const out =
        msg.method === 'notifications/cancelled'
          ? session.cancelledFor(msg.params?.['requestId'])
          : RELAYED_NOTIFICATIONS.has(msg.method)
            ? msg.message
            : undefined;
      if (out !== undefined) await this.#relay(state, session, out, msg.method);
      return answerEmpty(res, 202, this.#headers(session));
    }
    if (msg.kind === 'response') {
      if (!session.takeServerRequest(msg.id)) throw new WritError('ERR_MCP_UNEXPECTED_RESPONSE', `id ${String(msg.id).slice(0, 80)}`);
      state.action = '(response)';
      await this.#deps.audit.allow(state, { grants: [], data: { rpc_method: '(response)', session: session.tag } });
      await session.upstream.send(msg.message, { traceparent: state.trace.traceparent });
      this.#deps.audit.call(state, { decision: 'allow', reason: 'allowed', status: 202, grants: [] });
      return answerEmpty(res, 202, this.#headers(session));
    }
    await this.#request(req, res, state, caller, session, msg, false);
  }

  /** MCP 2026-07-28: headers and body must agree before anything else; the upstream session is Writ's own. */
  async #postSessionless(req: IncomingMessage, res: ServerResponse, state: CallState, caller: Caller): Promise<void> {
    const msg = await this.#message(req, res, state);
    if (msg === undefined) return;
    const mismatch = headerMismatch(req, msg);
    if (mismatch !== undefined) {
      state.action = msg.kind === 'response' ? '(response)' : msg.method;
      this.#enforcer.recordDenial(state, new WritError('ERR_MCP_HEADER_MISMATCH', mismatch));
      const error = rpcError(msg.kind === 'notification' ? null : msg.id, RPC.headerMismatch, 'header mismatch', {
        code: 'ERR_MCP_HEADER_MISMATCH',
        detail: mismatch,
      });
      return answerJson(res, 400, error, this.#headers());
    }
    if (msg.kind === 'response') throw new WritError('ERR_MCP_UNEXPECTED_RESPONSE', 'responses have no session to go to');
    if (msg.kind === 'request' && msg.method === 'initialize')
      throw new WritError('ERR_MCP_MESSAGE_INVALID', `MCP ${MODERN_VERSION} has no initialize`);
    await this.#holding(caller, () => this.#sessionlessMessage(req, res, state, caller, msg));
  }

  async #sessionlessMessage(
    req: IncomingMessage,
    res: ServerResponse,
    state: CallState,
    caller: Caller,
    msg: ClassifiedMessage,
  ): Promise<void> {
    const session = await this.#sessions.sessionless(caller, clientFromMeta(msg), UPSTREAM_VERSION_FOR_MODERN, state.trace.traceparent);
    if (msg.kind === 'notification') {
      state.action = msg.method;
      const out = msg.method === 'notifications/cancelled' ? session.cancelledFor(msg.params?.['requestId']) : undefined;
      if (out !== undefined) await this.#relay(state, session, out, msg.method);
      return answerEmpty(res, 202, this.#headers());
    }
    if (msg.kind === 'response') return;
    await this.#request(req, res, state, caller, session, msg, true);
  }

  /** An agent's notification relayed to the upstream: written ahead like every message that reaches it. */
  async #relay(state: CallState, session: McpSession, out: JsonRpcMessage, method: string): Promise<void> {
    await this.#deps.audit.allow(state, { grants: [], data: { rpc_method: method, session: session.tag } });
    const sent = await session.upstream.send(out, { traceparent: state.trace.traceparent }).then(
      () => true,
      () => false,
    );
    this.#deps.audit.call(state, { decision: 'allow', reason: sent ? 'allowed' : 'upstream_error', status: 202, grants: [] });
  }

  async #initialize(res: ServerResponse, state: CallState, caller: Caller, msg: Request): Promise<void> {
    state.action = 'initialize';
    await this.#deps.audit.allow(state, { grants: [], data: { rpc_method: 'initialize' } });
    const { session, answer, ok } = await this.#sessions.open(caller, msg.message, msg.id, state.trace.traceparent);
    if (!ok) {
      this.#enforcer.recordDenial(state, new WritError(upstreamFailure(answer), 'initialize failed upstream'));
      return answerJson(res, 200, answer, this.#headers());
    }
    this.#deps.audit.call(state, {
      decision: 'allow',
      reason: 'allowed',
      status: 200,
      grants: [],
      data: { rpc_method: 'initialize', session: session.tag, protocol_version: session.protocolVersion },
    });
    answerJson(res, 200, answer, this.#headers(session));
  }

  /** One request: decided (authorize-message.ts), relayed, its answer filtered when it is a list, audited once. */
  async #request(
    req: IncomingMessage,
    res: ServerResponse,
    state: CallState,
    caller: Caller,
    session: McpSession,
    msg: Request,
    sessionless: boolean,
  ): Promise<void> {
    state.action = msg.method;
    const data: Record<string, unknown> = {
      rpc_method: msg.method,
      session: session.tag,
      ...(sessionless ? { protocol_version: MODERN_VERSION } : {}),
    };
    // Sessionless clients are never told an id: there is no session for them to name.
    const headers = this.#headers(sessionless ? undefined : session);
    let grants: string[];
    const rule = methodRule(msg.method);
    try {
      if (rule === undefined) throw new RpcDenial('ERR_MCP_METHOD_NOT_ALLOWED', RPC.methodNotFound, `method ${msg.method.slice(0, 128)}`);
      if (rule === 'refuse') throw new RpcDenial('ERR_MCP_METHOD_NOT_ALLOWED', RPC.forbidden, `${msg.method} is not granted to any task`);
      if (rule === 'local-ping') return answerJson(res, 200, rpcResult(msg.id, {}), headers);
      if (rule === 'discover') {
        if (!sessionless) throw new RpcDenial('ERR_MCP_METHOD_NOT_ALLOWED', RPC.methodNotFound, 'server/discover is a 2026-07-28 method');
        this.#deps.audit.call(state, { decision: 'allow', reason: 'allowed', status: 200, grants: [], data });
        return answerJson(res, 200, rpcResult(msg.id, discoverResult(session.serverInitialize)), this.#headers());
      }
      const knownTools = async (): Promise<Set<string>> => session.knownTools ?? (await this.#loadTools(session, state));
      grants = await authorizeRequest(rule, msg, { caller, enforcer: this.#enforcer, knownTools }, state, data);
    } catch (err) {
      if (!(err instanceof RpcDenial)) throw err;
      this.#enforcer.recordDenial(state, err, data);
      // MCP 2026-07-28: an unknown method is a 404; before it, JSON-RPC errors travel with 200.
      const status = sessionless && err.rpcCode === RPC.methodNotFound ? 404 : 200;
      const refusal = rpcError(msg.id, err.rpcCode, err.message, { code: err.code, ...err.hint });
      const approvalUrl = err.code === 'ERR_APPROVAL_REQUIRED' ? err.hint?.approval_url : undefined;
      const answer =
        approvalUrl === undefined
          ? refusal
          : session.askToOpen(msg.id, approvalUrl, 'A person must approve this call. Once they have, send it again.', refusal);
      return answerJson(res, status, answer, headers);
    }

    await this.#deps.audit.allow(state, { grants, data });
    const reply = new RequestAnswer(req, res, headers);
    let finished = false;
    if (sessionless) {
      // 2026-07-28: closing the response stream cancels the request.
      res.on('close', () => {
        const cancel = finished ? undefined : session.cancelledFor(msg.id);
        if (cancel !== undefined) void session.upstream.send(cancel, { traceparent: state.trace.traceparent }).catch(() => undefined);
      });
    }
    let answer: JsonRpcMessage = await session.request(msg.message, msg.id, state.trace.traceparent, (m) => reply.relay(m));
    finished = true;
    if (isListRule(rule)) {
      if (rule === 'tools-list') session.rememberTools(listItems(answer, rule));
      answer = await filterList(answer, rule, { caller, enforcer: this.#enforcer }, data);
    }
    if (sessionless) answer = modernize(answer, msg.method);
    this.#deps.audit.call(state, {
      decision: 'allow',
      reason: answer['error'] !== undefined ? 'upstream_error' : 'allowed',
      status: 200,
      grants,
      data,
    });
    reply.finish(answer);
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

  /** A lease on the caller's share of the resource's upstream (refused at once, 429 or 503, when over a bound). */
  #lease(caller: Caller): UpstreamLease {
    return this.#deps.budget.acquire(caller.resource.id, { agentId: caller.claims.client_id, taskId: caller.claims.task_id });
  }

  /** Runs `work` holding a lease, given back whatever happens. */
  async #holding(caller: Caller, work: () => Promise<void>): Promise<void> {
    const lease = this.#lease(caller);
    try {
      await work();
    } finally {
      lease.release();
    }
  }

  #headers(session?: McpSession): Record<string, string> {
    return { ...(session !== undefined ? { 'mcp-session-id': session.id } : {}), ...this.#enforcer.nonceHeader() };
  }
}
