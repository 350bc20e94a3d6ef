/**
 * Revocation: one action for any target (credential, task subtree, agent, user, DPoP key, everything), written
 * first to the durable revocation log, then applied to this node's in-memory revocation set that every per-call
 * check consults, then audited. A restart replays the log, so no revoked token comes back.
 */
import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { RevocationSet } from '@writ/verify/internal';
import type { Database, RevocationRow } from '../storage/index.js';
import type { AuditPort } from '../audit/index.js';

export type RevocationTarget =
  | { type: 'token'; jti: string }
  | { type: 'task'; taskId: string }
  | { type: 'agent'; agentId: string }
  | { type: 'user'; userId: string }
  | { type: 'key'; jkt: string }
  | { type: 'all' }
  /**
   * One resource's tool (an MCP tool name) or action (`<METHOD> <path pattern>` of an HTTP resource) for every caller:
   * not a credential, so it does not expire with tokens; it stands until lifted (`RevocationService.lift`).
   */
  | { type: 'tool'; resourceId: string; tool: string };

export type ToolTarget = Extract<RevocationTarget, { type: 'tool' }>;

/** A tool kill's `expires_at`: 9999-12-31T23:59:59Z, so it is always loaded and never pruned. */
export const TOOL_KILL_EXPIRES_AT = 253_402_300_799;

export type RevocationEntry = Parameters<RevocationSet['apply']>[0];

export interface RevocationRecord {
  seq: number;
  target: RevocationTarget;
  reason: string;
  actor: string;
  createdAt: number;
  expiresAt: number;
  /** Set on the record of a lift: the tool kill of `target` is no longer in force. */
  lifted?: true;
}

export interface RevocationServiceDeps {
  db: Kysely<Database>;
  set: RevocationSet;
  audit: AuditPort;
  /** Longest life any task token can have, seconds: bounds how long an entry must be remembered. */
  maxTokenLifetimeSeconds: number;
  now?: () => number;
}

/**
 * Work that must commit with a new entry or not at all, run inside the transaction that writes it: the cluster's
 * NOTIFY (PostgreSQL delivers it only at the commit), Shared Signals' outbox rows (so a crash cannot keep the
 * revocation and lose its SETs).
 */
export type RevocationWriteHook = (trx: Kysely<Database>, row: RevocationRow) => Promise<void>;

/** How many recent sequences are remembered so an entry heard twice (own NOTIFY, catch-up) is announced once. */
const SEEN_MAX = 100_000;
const LOAD_PAGE = 10_000;

export class RevocationService {
  readonly #db: Kysely<Database>;
  readonly #set: RevocationSet;
  readonly #audit: AuditPort;
  readonly #maxLife: number;
  readonly #now: () => number;
  readonly #writeHooks: RevocationWriteHook[] = [];
  readonly #inForceHooks: Array<(entry: RevocationEntry) => Promise<void>> = [];
  readonly #events = new EventEmitter().setMaxListeners(0);
  readonly #seen = new Set<number>();
  /** The same sequences in the order seen: the oldest is forgotten first, in O(1) (Set iteration is not). */
  #seenOrder: number[] = [];
  #seenHead = 0;

  constructor(deps: RevocationServiceDeps) {
    this.#db = deps.db;
    this.#set = deps.set;
    this.#audit = deps.audit;
    this.#maxLife = deps.maxTokenLifetimeSeconds;
    this.#now = deps.now ?? Date.now;
  }

  get set(): RevocationSet {
    return this.#set;
  }

  /**
   * Replays every revocation that can still hit a live token into the in-memory set, a page at a time and only the
   * columns enforcement needs, so a long log costs its entries' memory and not a copy of the table.
   */
  async load(): Promise<number> {
    const nowSec = Math.floor(this.#now() / 1000);
    let after = 0;
    let n = 0;
    for (;;) {
      const rows = await this.#db
        .selectFrom('revocations')
        .select(['seq', 'target_type', 'target_id', 'before', 'expires_at'])
        .where('seq', '>', after)
        .where('expires_at', '>=', nowSec)
        .orderBy('seq')
        .limit(LOAD_PAGE)
        .execute();
      for (const row of rows) {
        this.#set.apply(entryFromRow(row));
        this.#markSeen(row.seq);
      }
      n += rows.length;
      const last = rows.at(-1);
      if (rows.length < LOAD_PAGE || last === undefined) return n;
      after = last.seq;
    }
  }

  /**
   * An entry written by another node (heard through the cluster channel or found by a catch-up): in force here at
   * once, then announced to this node's listeners (the verifier feed, open MCP sessions) — once, however often heard.
   */
  applyRemote(entry: RevocationEntry): void {
    this.#set.apply(entry);
    if (!this.#markSeen(entry.seq)) return;
    this.#events.emit('entry', entry);
  }

  /**
   * Applies every live entry after `afterSeq`, and every one created since `createdSinceMs` whatever its sequence: a
   * sequence is taken when a transaction starts but becomes visible when it commits, so a lower one can land after a
   * higher one was already applied. Returns the log's highest sequence as this read saw it.
   */
  async catchUp(afterSeq: number, createdSinceMs: number): Promise<number> {
    const nowSec = Math.floor(this.#now() / 1000);
    const rows = await this.#db
      .selectFrom('revocations')
      .selectAll()
      .where((eb) => eb.or([eb('seq', '>', afterSeq), eb('created_at', '>=', createdSinceMs)]))
      .where('expires_at', '>=', nowSec)
      .orderBy('seq')
      .execute();
    for (const row of rows) this.applyRemote(entryFromRow(row));
    const last = rows.at(-1)?.seq ?? 0;
    return Math.max(last, await this.lastSeq());
  }

  /**
   * Durable first, then in force on this node, then audited. Idempotent: revoking what is already revoked — the same
   * token or task, or the same agent, user, key or everything within the same second — writes nothing new and answers
   * with the revocation in force (audited as a repeat).
   */
  async revoke(target: RevocationTarget, opts: { reason: string; actor: string; expiresAt?: number }): Promise<RevocationRecord> {
    if (target.type === 'tool') return (await this.#setTool(target, false, opts)) as RevocationRecord;
    const now = this.#now();
    const nowSec = Math.floor(now / 1000);
    const expiresAt = opts.expiresAt ?? (await this.#expiryFor(target, nowSec));
    const { type, id } = targetKey(target);
    const existing = await this.#inForce(type, id, nowSec);
    if (existing !== undefined && (!needsBefore(target) || (existing.before ?? 0) >= nowSec)) {
      this.#audit.record({
        type: 'revocation.created',
        actor_chain: [opts.actor],
        decision: 'deny',
        reason: opts.reason,
        data: { seq: existing.seq, target: type, target_id: id, repeated: true },
        ...(target.type === 'agent' ? { agent_id: target.agentId } : {}),
      });
      return recordFromRow(existing);
    }
    const row = await this.#write({
      target_type: type,
      target_id: id,
      before: needsBefore(target) ? nowSec : null,
      expires_at: expiresAt,
      reason: opts.reason,
      actor: opts.actor,
      created_at: now,
    });
    return this.#announce(row, opts);
  }

  /**
   * Lifts a tool kill: the tool answers again on every node once this is durable (the same path as a kill). Returns
   * undefined, writing nothing, when the tool is not killed.
   */
  async lift(target: ToolTarget, opts: { reason: string; actor: string }): Promise<RevocationRecord | undefined> {
    return this.#setTool(target, true, opts);
  }

  /** Kills or lifts a tool, unless it already is in that state (then answers with the entry that put it there). */
  async #setTool(target: ToolTarget, lift: boolean, opts: { reason: string; actor: string }): Promise<RevocationRecord | undefined> {
    const id = toolTargetId(target);
    const latest = await this.#db
      .selectFrom('revocations')
      .selectAll()
      .where('target_type', 'in', ['tool', 'tool_lift'])
      .where('target_id', '=', id)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const killed = latest?.target_type === 'tool';
    if (lift && !killed) return undefined;
    if (!lift && killed) {
      this.#audit.record({
        type: 'revocation.created',
        actor_chain: [opts.actor],
        decision: 'deny',
        reason: opts.reason,
        data: { seq: latest.seq, target: 'tool', target_id: id, repeated: true },
      });
      return recordFromRow(latest);
    }
    const row = await this.#write({
      target_type: lift ? 'tool_lift' : 'tool',
      target_id: id,
      before: null,
      expires_at: TOOL_KILL_EXPIRES_AT,
      reason: opts.reason,
      actor: opts.actor,
      created_at: this.#now(),
    });
    return this.#announce(row, opts);
  }

  /** The new entry, durable with the work of every write hook (one transaction when there is any). */
  #write(values: Omit<RevocationRow, 'seq'>): Promise<RevocationRow> {
    const write = async (db: Kysely<Database>): Promise<RevocationRow> => {
      const row = await db.insertInto('revocations').values(values).returningAll().executeTakeFirstOrThrow();
      for (const hook of this.#writeHooks) await hook(db, row);
      return row;
    };
    return this.#writeHooks.length === 0 ? write(this.#db) : this.#db.transaction().execute(write);
  }

  /** A durable entry put in force here (and, through the in-force hooks, in every sibling), audited, announced. */
  async #announce(row: RevocationRow, opts: { reason: string; actor: string }): Promise<RevocationRecord> {
    const entry = entryFromRow(row);
    this.#set.apply(entry);
    this.#markSeen(row.seq);
    for (const hook of this.#inForceHooks) await hook(entry).catch(() => undefined);
    const record = recordFromRow(row);
    const target = record.target;
    this.#audit.record({
      type: record.lifted === true ? 'revocation.lifted' : 'revocation.created',
      actor_chain: [opts.actor],
      decision: record.lifted === true ? 'allow' : 'deny',
      reason: opts.reason,
      data: { seq: row.seq, target: target.type, target_id: row.target_id },
      ...(target.type === 'agent' ? { agent_id: target.agentId } : {}),
      ...(target.type === 'tool' ? { resource: target.resourceId, action: target.tool } : {}),
    });
    this.#events.emit('revoked', record);
    this.#events.emit('entry', entry);
    return record;
  }

  /**
   * Every entry as enforcement points apply it, once it is durable and in force here — made on this node or on
   * another one of the cluster (the revocation feed, open MCP sessions).
   */
  onEntry(listener: (e: RevocationEntry) => void): () => void {
    this.#events.on('entry', listener);
    return () => this.#events.off('entry', listener);
  }

  /** Entries after `seq` that can still hit a live token, in order: what a verifier catching up needs. */
  async entriesAfter(seq: number, limit: number): Promise<RevocationEntry[]> {
    const nowSec = Math.floor(this.#now() / 1000);
    const rows = await this.#db
      .selectFrom('revocations')
      .selectAll()
      .where('seq', '>', seq)
      .where('expires_at', '>=', nowSec)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(entryFromRow);
  }

  /** The highest sequence in the durable log (0 when empty). */
  async lastSeq(): Promise<number> {
    const r = await this.#db
      .selectFrom('revocations')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .executeTakeFirst();
    return Number(r?.seq ?? 0);
  }

  /**
   * Work that must be done before a new revocation is answered, after it is durable and in force here: with several
   * event loops on one port (`writ serve --workers`), putting it in force in every sibling. A hook that rejects is
   * logged by its owner; the revocation stands (it is durable) and the answer still waits for every hook.
   */
  addInForceHook(hook: (entry: RevocationEntry) => Promise<void>): void {
    this.#inForceHooks.push(hook);
  }

  /** Adds work to the transaction of every new entry (see `RevocationWriteHook`). */
  addWriteHook(hook: RevocationWriteHook): void {
    this.#writeHooks.push(hook);
  }

  /** Revocations made on this node only, after their transaction committed (each announced once, by its maker). */
  onRevoked(listener: (r: RevocationRecord) => void): () => void {
    this.#events.on('revoked', listener);
    return () => this.#events.off('revoked', listener);
  }

  async list(opts: { limit?: number; afterSeq?: number } = {}): Promise<RevocationRecord[]> {
    const rows = await this.#db
      .selectFrom('revocations')
      .selectAll()
      .where('seq', '>', opts.afterSeq ?? 0)
      .orderBy('seq')
      .limit(Math.min(opts.limit ?? 100, 1000))
      .execute();
    return rows.map(recordFromRow);
  }

  /** This node has applied the entry `seq` (a bounded memory of recent ones: old sequences may be forgotten). */
  hasSeen(seq: number): boolean {
    return this.#seen.has(seq);
  }

  /** The latest revocation of `target` that can still hit a live token, if any. */
  async inForce(target: RevocationTarget): Promise<RevocationRecord | undefined> {
    const { type, id } = targetKey(target);
    const row = await this.#inForce(type, id, Math.floor(this.#now() / 1000));
    return row === undefined ? undefined : recordFromRow(row);
  }

  #inForce(type: RevocationRow['target_type'], id: string, nowSec: number): Promise<RevocationRow | undefined> {
    return this.#db
      .selectFrom('revocations')
      .selectAll()
      .where('target_type', '=', type)
      .where('target_id', '=', id)
      .where('expires_at', '>=', nowSec)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** True when `seq` had not been seen before. */
  #markSeen(seq: number): boolean {
    if (this.#seen.has(seq)) return false;
    this.#seen.add(seq);
    this.#seenOrder.push(seq);
    if (this.#seen.size > SEEN_MAX) this.#seen.delete(this.#seenOrder[this.#seenHead++] as number);
    if (this.#seenHead >= SEEN_MAX) {
      this.#seenOrder = this.#seenOrder.slice(this.#seenHead);
      this.#seenHead = 0;
    }
    return true;
  }

  /** Drops entries no live token can match any more (memory stays bounded by the token lifetime). */
  prune(): void {
    this.#set.prune(Math.floor(this.#now() / 1000));
  }

  async #expiryFor(target: RevocationTarget, nowSec: number): Promise<number> {
    const fallback = nowSec + this.#maxLife + 60;
    if (target.type === 'token') {
      const t = await this.#db.selectFrom('tokens').select('expires_at').where('jti', '=', target.jti).executeTakeFirst();
      return t === undefined ? fallback : Math.ceil(t.expires_at / 1000) + 60;
    }
    if (target.type === 'task') {
      const t = await this.#db.selectFrom('tasks').select('expires_at').where('id', '=', target.taskId).executeTakeFirst();
      return t === undefined ? fallback : Math.ceil(t.expires_at / 1000) + 60;
    }
    return fallback;
  }
}

function needsBefore(t: RevocationTarget): boolean {
  return t.type === 'agent' || t.type === 'user' || t.type === 'key' || t.type === 'all';
}

/** Each target type's id member, as the admin API and the log's `target_id` spell it (`all` has none: `*`). */
const TARGET_ID_MEMBER = {
  token: 'jti',
  task: 'taskId',
  agent: 'agentId',
  user: 'userId',
  key: 'jkt',
  all: undefined,
} as const satisfies Record<Exclude<RevocationTarget['type'], 'tool'>, string | undefined>;

/** A tool's `target_id`: `<resource id>/<tool or action>` (register ids never contain `/`). */
export function toolTargetId(t: ToolTarget): string {
  return `${t.resourceId}/${t.tool}`;
}

function toolTargetOf(id: string): ToolTarget {
  const slash = id.indexOf('/');
  return { type: 'tool', resourceId: id.slice(0, slash), tool: id.slice(slash + 1) };
}

function targetKey(t: RevocationTarget): { type: RevocationRow['target_type']; id: string } {
  if (t.type === 'tool') return { type: 'tool', id: toolTargetId(t) };
  const member = TARGET_ID_MEMBER[t.type];
  return { type: t.type, id: member === undefined ? '*' : ((t as unknown as Record<string, string>)[member] as string) };
}

function targetFromRow(r: RevocationRow): RevocationTarget {
  if (r.target_type === 'tool' || r.target_type === 'tool_lift') return toolTargetOf(r.target_id);
  const member = TARGET_ID_MEMBER[r.target_type];
  return (member === undefined ? { type: 'all' } : { type: r.target_type, [member]: r.target_id }) as RevocationTarget;
}

export function recordFromRow(r: RevocationRow): RevocationRecord {
  return {
    seq: r.seq,
    target: targetFromRow(r),
    reason: r.reason,
    actor: r.actor,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    ...(r.target_type === 'tool_lift' ? { lifted: true as const } : {}),
  };
}

export function entryFromRow(r: Pick<RevocationRow, 'seq' | 'target_type' | 'target_id' | 'before' | 'expires_at'>): RevocationEntry {
  const before = r.before ?? 0;
  const base = { seq: r.seq, expiresAt: r.expires_at };
  switch (r.target_type) {
    case 'token':
      return { ...base, target: { type: 'token', jti: r.target_id } };
    case 'task':
      return { ...base, target: { type: 'task', taskId: r.target_id } };
    case 'agent':
      return { ...base, target: { type: 'agent', agentId: r.target_id, before } };
    case 'user':
      return { ...base, target: { type: 'user', userId: r.target_id, before } };
    case 'key':
      return { ...base, target: { type: 'key', jkt: r.target_id, before } };
    case 'all':
      return { ...base, target: { type: 'all', before } };
    case 'tool':
    case 'tool_lift': {
      const t = toolTargetOf(r.target_id);
      return { ...base, target: { type: 'tool', resourceId: t.resourceId, tool: t.tool, lifted: r.target_type === 'tool_lift' } };
    }
  }
}
