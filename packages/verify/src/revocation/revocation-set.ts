/**
 * The revocation state every enforcement point holds in memory. A check is a handful of Map lookups — the token,
 * its task and each ancestor task, each agent of the `act` chain, the user, the key, "everything" — so its cost does
 * not grow with the number of revocations. Entries are dropped once no token they could hit can still be valid; they
 * are indexed by the minute they expire in, so pruning visits what may have expired and never walks the whole set.
 */
import { actorsOf, type ErrorCode, type TaskTokenClaims } from '@writ/protocol';

export type RevocationEntryTarget =
  | { type: 'token'; jti: string }
  | { type: 'task'; taskId: string }
  | { type: 'agent'; agentId: string; before: number }
  | { type: 'user'; userId: string; before: number }
  | { type: 'key'; jkt: string; before: number }
  | { type: 'all'; before: number };

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

export class RevocationSet {
  readonly #tokens = new Map<string, Until>();
  readonly #tasks = new Map<string, Until>();
  readonly #agents = new Map<string, Before>();
  readonly #users = new Map<string, Before>();
  readonly #keys = new Map<string, Before>();
  #all: Before | undefined;
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
      this.#tokens.size + this.#tasks.size + this.#agents.size + this.#users.size + this.#keys.size + (this.#all === undefined ? 0 : 1)
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
