/**
 * Every MCP session this node holds: those agents opened with `initialize` (found by `Mcp-Session-Id`) and those
 * Writ opens itself for sessionless 2026-07-28 agents (one per resource, task, key and agent; never reachable by an
 * id). Both are set up the same way — a fresh upstream connection, initialize with the agent's capabilities but
 * never its roots — and both are bounded, closed when idle, and cut when a revocation hits their task.
 *
 * The bounds count both kinds together: a node's total, a task's and an agent's. Past a task's or agent's bound, an
 * agent's `initialize` is refused (429 `ERR_MCP_SESSION_LIMIT`); a sessionless call instead closes the least recently
 * used idle session Writ holds for the same task or agent, if there is one, since those are Writ's to keep or drop.
 */
import { randomBytes } from 'node:crypto';
import { WritError, type TaskTokenClaims } from '@writ/protocol';
import type { JsonRpcId, JsonRpcMessage } from '../../errors/index.js';
import type { Logger } from '../../observability/index.js';
import type { CallPrincipal } from '../../vault/index.js';
import type { Resource } from '../../register/index.js';
import type { Caller } from '../enforce-call.js';
import { McpSession, type SessionBinding } from './mcp-session.js';
import { upstreamFailure, type UpstreamConnection } from './upstream/upstream-connection.js';

export interface SessionRegistryOptions {
  /** Opens a fresh upstream connection for one session. */
  connect(resource: Resource, principal?: CallPrincipal): Promise<UpstreamConnection>;
  /** What a revocation is checked against (the node's revocation set). */
  revocations: { check(claims: TaskTokenClaims, jkt: string): unknown };
  /** An upstream request with neither an answer nor progress for this long is answered with a timeout error. */
  requestTimeoutMs: number;
  /** A session unused this long is closed. */
  sessionIdleMs: number;
  /** What every session id this registry hands out starts with (the worker's slot, so siblings can relay to it). */
  sessionIdPrefix?: string;
  /** Sessions of both kinds on this node, at most. */
  maxSessions: number;
  /** Each session may hold an upstream process: one task may not open more than this many. */
  maxSessionsPerTask: number;
  /** Nor one agent, all its tasks together. */
  maxSessionsPerAgent: number;
  logger: Logger;
  now?: () => number;
}

/** A session's start: the session, and the upstream's answer to initialize (a result, or the error it gave). */
export interface Started {
  session: McpSession;
  answer: JsonRpcMessage;
  /** The upstream answered initialize with a protocol version; otherwise the session is already closed. */
  ok: boolean;
}

export class SessionRegistry {
  readonly #o: SessionRegistryOptions;
  readonly #now: () => number;
  readonly #sessions = new Map<string, McpSession>();
  readonly #sessionless = new Map<string, McpSession>();
  /** Sessionless sessions being opened, by key. */
  readonly #opening = new Map<string, Promise<McpSession>>();
  /** Sessions being started (their upstream initialize in flight): counted against the bounds already. */
  readonly #starting = new Set<{ taskId: string; agentId: string }>();
  readonly #sweep: NodeJS.Timeout;

  constructor(o: SessionRegistryOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    // Swept four times per idle period, so a session outlives its idle time by a quarter of it at most.
    this.#sweep = setInterval(() => this.#closeIdle(), Math.max(250, Math.min(30_000, Math.floor(o.sessionIdleMs / 4)))).unref();
  }

  /** Open sessions: those agents opened, and those Writ holds for sessionless agents. */
  get counts(): { sessions: number; sessionless: number } {
    return { sessions: this.#sessions.size, sessionless: this.#sessionless.size };
  }

  /** The caller's session by its id: it must exist, be open, and belong to the same resource, task, agent and key. */
  find(sessionId: unknown, caller: Caller): McpSession {
    if (typeof sessionId !== 'string' || sessionId === '') throw new WritError('ERR_MCP_SESSION_REQUIRED', 'no Mcp-Session-Id');
    const s = this.#sessions.get(sessionId);
    if (s === undefined || s.closed || !boundTo(s.binding, caller))
      throw new WritError('ERR_MCP_SESSION_UNKNOWN', 'no such session for this task');
    return this.#touch(s, caller);
  }

  /**
   * An agent's `initialize`: a new session, registered (and so reachable by its id) only when the upstream accepted
   * it. The agent's own initialize goes upstream, under its own id, without its roots.
   */
  async open(caller: Caller, initialize: JsonRpcMessage, agentId: JsonRpcId, traceparent: string): Promise<Started> {
    this.admit(caller);
    const started = await this.#reserved(caller, () => this.#start(caller, initialize, agentId, traceparent));
    if (started.ok) {
      const { session } = started;
      this.#sessions.set(session.id, session);
      session.onClose = () => this.#sessions.delete(session.id);
    }
    return started;
  }

  /**
   * The upstream session Writ keeps for a sessionless agent, opened on first use from what the request's `_meta`
   * declares (capabilities, client info) and initialized by Writ itself.
   */
  async sessionless(
    caller: Caller,
    client: { capabilities: Record<string, unknown>; clientInfo: unknown },
    protocolVersion: string,
    traceparent: string,
  ): Promise<McpSession> {
    const key = `${caller.resource.id}\0${caller.claims.task_id}\0${caller.jkt ?? 'bearer'}\0${caller.claims.client_id}`;
    const existing = this.#sessionless.get(key);
    if (existing !== undefined && !existing.closed) return this.#touch(existing, caller);
    // Concurrent first calls share one opening: a second session for the same key would be held by nobody.
    const pending = this.#opening.get(key);
    if (pending !== undefined) return this.#touch(await pending, caller);
    this.#admit(caller, true);
    const opening = this.#reserved(caller, async () => {
      const initialize: JsonRpcMessage = {
        jsonrpc: '2.0',
        method: 'initialize',
        params: { protocolVersion, capabilities: client.capabilities, clientInfo: client.clientInfo },
      };
      const { session, ok, answer } = await this.#start(caller, initialize, null, traceparent);
      if (!ok) throw new WritError(upstreamFailure(answer), 'initialize failed upstream');
      try {
        await session.upstream.send({ jsonrpc: '2.0', method: 'notifications/initialized' }, { traceparent });
      } catch (err) {
        await session.close();
        throw err;
      }
      this.#sessionless.set(key, session);
      session.onClose = () => {
        if (this.#sessionless.get(key) === session) this.#sessionless.delete(key);
      };
      return session;
    });
    this.#opening.set(key, opening);
    try {
      return await opening;
    } finally {
      this.#opening.delete(key);
    }
  }

  /** After a revocation: close every session whose last token it hits, so its streams are cut now, not at its next request. */
  revoked(): void {
    for (const s of this.#all())
      if (s.claims !== undefined && this.#o.revocations.check(s.claims, s.binding.jkt ?? '') !== null) void s.close();
  }

  /** After a tool of `resourceId` was killed or restored: every open session of it is told to list its tools again. */
  toolsChanged(resourceId: string): void {
    for (const s of this.#all()) if (s.binding.resourceId === resourceId) s.toolsChanged();
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    await Promise.all(this.#all().map((s) => s.close()));
  }

  /** Refuses (ERR_MCP_SESSION_LIMIT, ERR_NOT_READY) when the caller may not open another session now. */
  admit(caller: Caller): void {
    this.#admit(caller, false);
  }

  /**
   * Both kinds count against each bound: each may hold an upstream connection or process. `evict`: room may be made
   * by closing the caller's own least recently used idle sessionless session.
   */
  #admit(caller: Caller, evict: boolean): void {
    const { task_id: taskId, client_id: agentId } = caller.claims;
    for (;;) {
      let ofTask = 0;
      let ofAgent = 0;
      // The least recently used idle sessionless session of the task, and of the agent.
      let ofTaskLru: McpSession | undefined;
      let ofAgentLru: McpSession | undefined;
      for (const r of this.#starting) {
        if (r.agentId !== agentId) continue;
        ofAgent++;
        if (r.taskId === taskId) ofTask++;
      }
      for (const [kind, s] of this.#kinds()) {
        if (s.closed || s.binding.clientId !== agentId) continue;
        const sameTask = s.binding.taskId === taskId;
        ofAgent++;
        if (sameTask) ofTask++;
        if (kind !== 'sessionless' || s.busy) continue;
        if (ofAgentLru === undefined || s.lastUsed < ofAgentLru.lastUsed) ofAgentLru = s;
        if (sameTask && (ofTaskLru === undefined || s.lastUsed < ofTaskLru.lastUsed)) ofTaskLru = s;
      }
      const taskFull = ofTask >= this.#o.maxSessionsPerTask;
      if (!taskFull && ofAgent < this.#o.maxSessionsPerAgent) break;
      // A task at its bound may only give up one of its own sessions; an agent at its bound, any of its own.
      const victim = taskFull ? ofTaskLru : ofAgentLru;
      if (!evict || victim === undefined)
        throw new WritError(
          'ERR_MCP_SESSION_LIMIT',
          taskFull ? `task ${taskId} has ${ofTask} sessions` : `agent ${agentId} has ${ofAgent} sessions`,
        );
      this.#drop(victim);
    }
    if (this.#sessions.size + this.#sessionless.size + this.#starting.size >= this.#o.maxSessions)
      throw new WritError('ERR_NOT_READY', 'MCP session limit reached');
  }

  /** Runs a session's start counted against the bounds while it runs, so concurrent starts cannot overshoot them. */
  async #reserved<T>(caller: Caller, start: () => Promise<T>): Promise<T> {
    const reservation = { taskId: caller.claims.task_id, agentId: caller.claims.client_id };
    this.#starting.add(reservation);
    try {
      return await start();
    } finally {
      this.#starting.delete(reservation);
    }
  }

  /** Closes a session and forgets it now, not when its upstream has finished closing. */
  #drop(s: McpSession): void {
    for (const [key, v] of this.#sessionless) if (v === s) this.#sessionless.delete(key);
    this.#sessions.delete(s.id);
    void s.close();
  }

  *#kinds(): Iterable<['session' | 'sessionless', McpSession]> {
    for (const s of this.#sessions.values()) yield ['session', s];
    for (const s of this.#sessionless.values()) yield ['sessionless', s];
  }

  /** One session setup for both kinds: a fresh upstream connection, initialize without the agent's roots. */
  async #start(caller: Caller, initialize: JsonRpcMessage, agentId: JsonRpcId | null, traceparent: string): Promise<Started> {
    const binding: SessionBinding = {
      resourceId: caller.resource.id,
      taskId: caller.claims.task_id,
      clientId: caller.claims.client_id,
      jkt: caller.jkt,
    };
    const upstream = await this.#o.connect(caller.resource, {
      userId: caller.claims.sub,
      agentId: caller.claims.client_id,
      taskId: caller.claims.task_id,
    });
    const session = new McpSession(
      `${this.#o.sessionIdPrefix ?? ''}${randomBytes(24).toString('base64url')}`,
      binding,
      upstream,
      this.#o.logger,
      this.#now(),
      this.#o.requestTimeoutMs,
    );
    session.claims = caller.claims;
    // The agent's roots never reach the upstream (a filesystem server would take them as its allowed directories).
    const params = { ...((initialize['params'] as Record<string, unknown> | undefined) ?? {}) };
    const { roots: _roots, ...capabilities } = (params['capabilities'] ?? {}) as Record<string, unknown>;
    params['capabilities'] = capabilities;
    session.clientCapabilities = capabilities;
    const answer = await session.request({ ...initialize, params }, agentId, traceparent, () => undefined);
    const result = answer['result'] as Record<string, unknown> | undefined;
    if (result === undefined || typeof result['protocolVersion'] !== 'string') {
      await session.close();
      return { session, answer, ok: false };
    }
    session.protocolVersion = result['protocolVersion'];
    session.serverInitialize = result;
    return { session, answer, ok: true };
  }

  #touch(s: McpSession, caller: Caller): McpSession {
    s.lastUsed = this.#now();
    s.claims = caller.claims;
    return s;
  }

  #all(): McpSession[] {
    return [...this.#sessions.values(), ...this.#sessionless.values()];
  }

  #closeIdle(): void {
    const cutoff = this.#now() - this.#o.sessionIdleMs;
    // A request still waiting for its answer is not idleness: its own timeout bounds it.
    for (const s of this.#all()) if (s.lastUsed < cutoff && !s.busy) this.#drop(s);
  }
}

function boundTo(b: SessionBinding, caller: Caller): boolean {
  return (
    b.resourceId === caller.resource.id &&
    b.taskId === caller.claims.task_id &&
    b.clientId === caller.claims.client_id &&
    b.jkt === caller.jkt
  );
}
