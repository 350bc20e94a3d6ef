/**
 * The revocation state every enforcement point holds in memory. A check is a handful of Map lookups — the token,
 * its task and each ancestor task, each agent of the `act` chain, the user, the key, "everything" — so its cost does
 * not grow with the number of revocations. Entries are dropped once no token they could hit can still be valid; they
 * are indexed by the minute they expire in, so pruning visits what may have expired and never walks the whole set.
 *
 * A killed tool is not about tokens: it stops one resource's tool (an MCP tool name) or action (`<METHOD> <path
 * pattern>` of an HTTP resource) for every caller until it is lifted, so it never expires and is never pruned. Its
 * kill and its lift are both log entries; the later sequence wins, whatever order they arrive in.
 */
import { actorsOf, type ErrorCode, type TaskTokenClaims } from '@writ/protocol';
import { compilePathPattern, matchSegments, type CompiledPattern } from '../authorization/path-pattern.js';

export type RevocationEntryTarget =
  | { type: 'token'; jti: string }
  | { type: 'task'; taskId: string }
  | { type: 'agent'; agentId: string; before: number }
  | { type: 'user'; userId: string; before: number }
  | { type: 'key'; jkt: string; before: number }
  | { type: 'all'; before: number }
  /** `tool`: an MCP tool name, or `<METHOD> <path pattern>` (METHOD may be `*`) of an HTTP resource. */
  | { type: 'tool'; resourceId: string; tool: string; lifted: boolean };

export interface RevocationEntry {
  /** Position in the durable revocation log. */
  seq: number;
  target: RevocationEntryTarget;
  /** Epoch seconds after which no token this entry could hit is still valid. */
  expiresAt: number;
}

interface Until {
  expiresAt: number;
}
interface Before extends Until {
  before: number;
}

/** Keys of one map by the minute (epoch seconds / 60) their entry expires in; an extended entry is in both minutes. */
type ExpiryIndex = Map<number, string[]>;

const minute = (epochSeconds: number): number => Math.floor(epochSeconds / 60);

/** The latest kill and lift of one tool, by log sequence (0: none); in force while the kill is the later. */
interface ToolState {
  killed: number;
  lifted: number;
  /** For an HTTP action (`<METHOD> <path pattern>`): its method and compiled pattern. */
  http: { method: string; pattern: CompiledPattern } | undefined;
}

const HTTP_ACTION = /^([A-Z]+|\*) (\/\S*)$/;

/** An HTTP action spelled `<METHOD> <path pattern>`, compiled; undefined for anything else (an MCP tool name). */
export function parseHttpAction(tool: string): { method: string; pattern: CompiledPattern } | undefined {
  const m = HTTP_ACTION.exec(tool);
  if (m === null) return undefined;
  try {
    return { method: m[1] as string, pattern: compilePathPattern(m[2] as string) };
  } catch {
    return undefined;
  }
}

export class RevocationSet {
  readonly #tokens = new Map<string, Until>();
  readonly #tasks = new Map<string, Until>();
  readonly #agents = new Map<string, Before>();
  readonly #users = new Map<string, Before>();
  readonly #keys = new Map<string, Before>();
  #all: Before | undefined;
  /** Resource id → tool or action → its kill state. */
  readonly #tools = new Map<string, Map<string, ToolState>>();
  #toolsKilled = 0;
  #lastSeq = 0;
  readonly #expiring = new Map<Map<string, Until>, ExpiryIndex>([
    [this.#tokens, new Map()],
    [this.#tasks, new Map()],
    [this.#agents, new Map()],
    [this.#users, new Map()],
    [this.#keys, new Map()],
  ]);

  /** Highest log sequence applied: how current this node is. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get size(): number {
    return (
      this.#tokens.size +
      this.#tasks.size +
      this.#agents.size +
      this.#users.size +
      this.#keys.size +
      (this.#all === undefined ? 0 : 1) +
      this.#toolsKilled
    );
  }

  apply(entry: RevocationEntry): void {
    const t = entry.target;
    const until = { expiresAt: entry.expiresAt };
    switch (t.type) {
      case 'token':
        this.#indexed(this.#tokens, t.jti, () => keepLonger(this.#tokens, t.jti, until));
        break;
      case 'task':
        this.#indexed(this.#tasks, t.taskId, () => keepLonger(this.#tasks, t.taskId, until));
        break;
      case 'agent':
        this.#indexed(this.#agents, t.agentId, () => keepLater(this.#agents, t.agentId, { ...until, before: t.before }));
        break;
      case 'user':
        this.#indexed(this.#users, t.userId, () => keepLater(this.#users, t.userId, { ...until, before: t.before }));
        break;
      case 'key':
        this.#indexed(this.#keys, t.jkt, () => keepLater(this.#keys, t.jkt, { ...until, before: t.before }));
        break;
      case 'all':
        this.#all = this.#all === undefined ? { ...until, before: t.before } : merge(this.#all, { ...until, before: t.before });
        break;
      case 'tool':
        this.#applyTool(t.resourceId, t.tool, t.lifted, entry.seq);
        break;
    }
    if (entry.seq > this.#lastSeq) this.#lastSeq = entry.seq;
  }

  /** The first revocation that hits this token, or null. `jkt` is the key the call was proven with. */
  check(claims: TaskTokenClaims, jkt: string): ErrorCode | null {
    const iat = claims.iat;
    if (this.#all !== undefined && iat <= this.#all.before) return 'ERR_REVOKED_ALL';
    if (this.#tokens.has(claims.jti)) return 'ERR_REVOKED_TOKEN';
    if (this.#tasks.has(claims.task_id)) return 'ERR_REVOKED_TASK';
    for (const ancestor of claims.task_chain) if (this.#tasks.has(ancestor)) return 'ERR_REVOKED_TASK';
    if (hitBefore(this.#agents, claims.client_id, iat)) return 'ERR_REVOKED_AGENT';
    for (const agent of actorsOf(claims.act)) if (hitBefore(this.#agents, agent, iat)) return 'ERR_REVOKED_AGENT';
    if (hitBefore(this.#users, claims.sub, iat)) return 'ERR_REVOKED_USER';
    const bound = claims.cnf?.jkt;
    if ((jkt !== '' && hitBefore(this.#keys, jkt, iat)) || (bound !== undefined && bound !== jkt && hitBefore(this.#keys, bound, iat)))
      return 'ERR_REVOKED_KEY';
    return null;
  }

  /** Is this MCP tool of this resource killed? */
  toolRevoked(resourceId: string, tool: string): boolean {
    const state = this.#tools.get(resourceId)?.get(tool);
    return state !== undefined && state.killed > state.lifted;
  }

  /** The killed action of this HTTP resource that covers the call (`path`: canonical, see normalizeRequestPath), or null. */
  httpActionRevoked(resourceId: string, method: string, path: string): string | null {
    const tools = this.#tools.get(resourceId);
    if (tools === undefined) return null;
    const segments = path === '/' ? [''] : path.slice(1).split('/');
    for (const [action, state] of tools) {
      const http = state.http;
      if (http === undefined || state.killed <= state.lifted) continue;
      if ((http.method === '*' || http.method === method) && matchSegments(http.pattern, segments)) return action;
    }
    return null;
  }

  /** The killed tools and actions of a resource (for listings and operators). */
  revokedTools(resourceId: string): string[] {
    const out: string[] = [];
    for (const [tool, state] of this.#tools.get(resourceId) ?? []) if (state.killed > state.lifted) out.push(tool);
    return out;
  }

  #applyTool(resourceId: string, tool: string, lifted: boolean, seq: number): void {
    let tools = this.#tools.get(resourceId);
    if (tools === undefined) this.#tools.set(resourceId, (tools = new Map()));
    let state = tools.get(tool);
    if (state === undefined) tools.set(tool, (state = { killed: 0, lifted: 0, http: parseHttpAction(tool) }));
    const wasKilled = state.killed > state.lifted;
    if (lifted) state.lifted = Math.max(state.lifted, seq);
    else state.killed = Math.max(state.killed, seq);
    const isKilled = state.killed > state.lifted;
    if (isKilled !== wasKilled) this.#toolsKilled += isKilled ? 1 : -1;
  }

  /** Forget entries that can no longer hit a valid token. Visits only the minutes that have begun, not the whole set. */
  prune(nowSeconds: number): number {
    let dropped = 0;
    const current = minute(nowSeconds);
    for (const [map, index] of this.#expiring) {
      for (const [m, keys] of index) {
        if (m > current) continue;
        const keep: string[] = [];
        for (const k of keys) {
          const v = map.get(k);
          if (v === undefined || minute(v.expiresAt) !== m) continue; // gone, or extended into a later minute
          if (v.expiresAt < nowSeconds) {
            map.delete(k);
            dropped++;
          } else keep.push(k);
        }
        if (keep.length === 0) index.delete(m);
        else index.set(m, keep);
      }
    }
    if (this.#all !== undefined && this.#all.expiresAt < nowSeconds) {
      this.#all = undefined;
      dropped++;
    }
    return dropped;
  }

  /** Runs `write` for `key` and files the key under its entry's expiry minute when that minute is new for it. */
  #indexed(map: Map<string, Until>, key: string, write: () => void): void {
    const before = map.get(key)?.expiresAt;
    write();
    const after = (map.get(key) as Until).expiresAt;
    if (before !== undefined && minute(before) === minute(after)) return;
    const index = this.#expiring.get(map) as ExpiryIndex;
    const m = minute(after);
    const keys = index.get(m);
    if (keys === undefined) index.set(m, [key]);
    else keys.push(key);
  }
}

function keepLonger(map: Map<string, Until>, key: string, v: Until): void {
  const old = map.get(key);
  if (old === undefined || old.expiresAt < v.expiresAt) map.set(key, v);
}

/** Entries for one target merge to the widest: the later `before` and the later expiry, in any order of arrival. */
function keepLater(map: Map<string, Before>, key: string, v: Before): void {
  const old = map.get(key);
  map.set(key, old === undefined ? v : merge(old, v));
}

function merge(a: Before, b: Before): Before {
  return { before: Math.max(a.before, b.before), expiresAt: Math.max(a.expiresAt, b.expiresAt) };
}

function hitBefore(map: Map<string, Before>, key: string, iat: number): boolean {
  const e = map.get(key);
  return e !== undefined && iat <= e.before;
}
