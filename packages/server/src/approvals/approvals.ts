/**
 * Call-bound approvals. A call that a grant's `@approval` policy permits is held back: Writ records it as a pending
 * approval and refuses it with ERR_APPROVAL_REQUIRED, naming the approval. A person who may approve sees the exact
 * call and approves or denies it. The approval is bound to the digest of that call — the task, the resource, the
 * action, the canonical target and the arguments — so the same call retried goes through, once, while it is fresh;
 * the same tool with other arguments, the same call in another task, or a retry after the approval expired needs an
 * approval of its own. Every request, decision and use is audited under the task, so it shows in the task's chain.
 *
 * At rest, the arguments are sealed with the KEK and the digest is keyed (HMAC under a key derived from it): neither
 * the rows nor a copy of the database tell what a held call carried, nor confirm a guess at it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { WritError, PATHS } from '@writ/protocol';
import { isUniqueViolation, type ApprovalRow, type Database } from '../storage/index.js';
import type { AuditPort } from '../audit/index.js';
import { canonicalJson } from '../audit/index.js';
import { CryptoError, deriveKey, openEnvelope, sealEnvelope, type KeyRing, type SealedColumn } from '../crypto/index.js';
import { approverKey, type ApprovalRule, type Approver } from '../policy/index.js';

/** The call an approver is shown and the approval is bound to. */
export interface CallToApprove {
  taskId: string;
  agentId: string;
  userId: string;
  resourceId: string;
  /** The task's chain, root first, ending with this task: who started it and through which agents. */
  taskChain: string[];
  /** The user, then each agent acting. */
  actorChain: string[];
  purpose: string;
  /** `tools/call`, `prompts/get`, `resources/read`, or an HTTP method. */
  action: string;
  /** The tool, prompt or URI; for HTTP the canonical path with the query as sent. */
  target: string;
  /** MCP arguments; for HTTP the body's digest, size and, when it is text, its beginning. */
  arguments: unknown;
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used';

export interface ApprovalView {
  id: string;
  status: ApprovalStatus;
  taskId: string;
  agentId: string;
  userId: string;
  resourceId: string;
  call: CallToApprove;
  approvers: string[];
  policies: string[];
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  reason: string | null;
  usedAt: number | null;
  /**
   * Present when the arguments' envelope opens under none of the accepted KEKs (a KEK removed before `rotate-kek` ran,
   * or a row edited): the call is shown without its arguments, and it may be denied but not approved.
   */
  argumentsUnreadable?: true;
}

/** Who is deciding: an operator with an admin token, or a person signed in at the identity provider. */
export type Decider = { kind: 'admin'; actor: string } | { kind: 'person'; userId: string; groups: readonly string[] };

export interface ApprovalsDeps {
  db: Kysely<Database>;
  audit: AuditPort;
  now: () => number;
  publicUrl: string;
  /** How long a pending approval waits for a decision, and how long an approved one waits for its call, seconds. */
  pendingSeconds: number;
  approvedSeconds: number;
  /** The agent's owner (register), for `owner` approvers. */
  ownerOf(agentId: string): Promise<string | undefined>;
  /** Told of every new pending approval (the configured webhook), after it is stored. */
  notify?(approval: ApprovalView): void;
  /** The KEKs: the current one seals arguments and keys the digest; every accepted one opens and finds. */
  keys: KeyRing;
}

export function approvalAad(id: string): string {
  return `approval:${id}`;
}

/** Where approvals' arguments are sealed (for `writ vault rotate-kek`). */
export const APPROVAL_ENVELOPES: SealedColumn = {
  name: 'approvals',
  table: 'approvals',
  key: ['id'],
  column: 'arguments_envelope',
  aad: (row) => approvalAad(String(row['id'])),
};

const DIGEST_PURPOSE = 'approval-call-digest';

export class ApprovalError extends Error {
  readonly code: 'not_found' | 'not_pending' | 'forbidden' | 'unreadable';
  constructor(code: ApprovalError['code'], message: string) {
    super(message);
    this.name = 'ApprovalError';
    this.code = code;
  }
}

/** What an approval is good for: the task, resource, action, target and arguments, under `key` (HMAC-SHA256). */
export function callDigest(call: CallToApprove, key: Uint8Array): string {
  return createHmac('sha256', key)
    .update(
      canonicalJson({
        task: call.taskId,
        resource: call.resourceId,
        action: call.action,
        target: call.target,
        arguments: call.arguments ?? null,
      }),
    )
    .digest('hex');
}

export class Approvals {
  readonly #d: ApprovalsDeps;
  /** The current KEK's digest key first: a new approval's digest; the others find approvals made before a rotation. */
  readonly #digestKeys: readonly Buffer[];

  constructor(deps: ApprovalsDeps) {
    this.#d = deps;
    this.#digestKeys = deps.keys.accepted.map((k) => deriveKey(k, DIGEST_PURPOSE));
  }

  /**
   * Seals the arguments of approvals stored before they were sealed (migration 0024), and keys their digests. Run at
   * start; a row another node sealed meanwhile is left as that node wrote it. Returns how many rows it sealed.
   */
  async sealStored(): Promise<number> {
    const rows = await this.#d.db.selectFrom('approvals').selectAll().where('arguments_envelope', 'is', null).execute();
    let sealed = 0;
    for (const r of rows) {
      const call = JSON.parse(r.call) as CallToApprove;
      const res = await this.#d.db
        .updateTable('approvals')
        .set({ ...this.#atRest(r.id, call), call_digest: callDigest(call, this.#digestKeys[0] as Buffer) })
        .where('id', '=', r.id)
        .where('arguments_envelope', 'is', null)
        .executeTakeFirst();
      sealed += Number(res.numUpdatedRows);
    }
    return sealed;
  }

  approvalUrl(id: string): string {
    return `${this.#d.publicUrl}${PATHS.approvalPagePrefix}${id}`;
  }

  pollUrl(id: string): string {
    return `${this.#d.publicUrl}${PATHS.approvalStatusPrefix}${id}`;
  }

  /**
   * Lets the call through when an approval of exactly it is approved, unused and fresh (and marks it used: good once);
   * otherwise throws ERR_APPROVAL_REQUIRED (a pending approval, new or the one already waiting) or ERR_APPROVAL_DENIED.
   * Returns the approval's id.
   */
  async gate(call: CallToApprove, rule: ApprovalRule): Promise<string> {
    const digests = this.#digestKeys.map((k) => callDigest(call, k));
    const digest = digests[0] as string;
    const now = this.#d.now();
    const latest = await this.#d.db
      .selectFrom('approvals')
      .selectAll()
      .where('task_id', '=', call.taskId)
      .where('call_digest', 'in', digests)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (latest !== undefined && latest.expires_at > now && latest.used_at === null) {
      if (latest.status === 'approved') {
        const used = await this.#d.db
          .updateTable('approvals')
          .set({ used_at: now })
          .where('id', '=', latest.id)
          .where('used_at', 'is', null)
          .executeTakeFirst();
        if (used.numUpdatedRows === 1n) {
          this.#audit('approval.used', latest, 'allow', 'approved', {});
          return latest.id;
        }
        // Another node's retry of the same call used it a moment ago: this one needs an approval of its own.
      } else if (latest.status === 'pending') throw this.#required(latest.id);
      else throw new WritError('ERR_APPROVAL_DENIED', `approval ${latest.id} was denied`, this.#hint(latest.id));
    }
    const id = `apr_${randomBytes(18).toString('base64url')}`;
    const row: ApprovalRow = {
      id,
      task_id: call.taskId,
      agent_id: call.agentId,
      user_id: call.userId,
      resource_id: call.resourceId,
      call_digest: digest,
      ...this.#atRest(id, call),
      approvers: JSON.stringify(rule.approvers.map(approverKey)),
      policies: JSON.stringify(rule.policies),
      status: 'pending',
      created_at: now,
      expires_at: now + this.#d.pendingSeconds * 1000,
      decided_at: null,
      decided_by: null,
      reason: null,
      used_at: null,
    };
    // One pending approval per task and call (approvals_one_pending): a pending one past its time gives up its place,
    // and of two holds of the same call at the same moment (two nodes, two retries) the second is told the first's.
    await this.#d.db
      .updateTable('approvals')
      .set({ status: 'expired' })
      .where('task_id', '=', call.taskId)
      .where('call_digest', 'in', digests)
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .execute();
    try {
      await this.#d.db.insertInto('approvals').values(row).execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const waiting = await this.#d.db
        .selectFrom('approvals')
        .select('id')
        .where('task_id', '=', call.taskId)
        .where('call_digest', '=', digest)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (waiting === undefined) throw err;
      throw this.#required(waiting.id);
    }
    this.#audit('approval.requested', row, 'deny', 'ERR_APPROVAL_REQUIRED', { approvers: rule.approvers.map(approverKey) });
    // The call is at hand: no need to open the envelope just sealed.
    this.#d.notify?.(viewOf(row, call, now));
    throw this.#required(id);
  }

  async get(id: string): Promise<ApprovalView | undefined> {
    if (!/^apr_[A-Za-z0-9_-]{24}$/.test(id)) return undefined;
    const row = await this.#d.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : this.#viewOf(row, this.#d.now());
  }

  /** Newest first; `status` filters on the status as it stands now. */
  async list(o: { status?: ApprovalStatus; limit: number }): Promise<ApprovalView[]> {
    const now = this.#d.now();
    let q = this.#d.db.selectFrom('approvals').selectAll();
    if (o.status === 'pending' || o.status === 'approved') q = q.where('status', '=', o.status).where('expires_at', '>', now);
    if (o.status === 'approved') q = q.where('used_at', 'is', null);
    if (o.status === 'denied') q = q.where('status', '=', 'denied');
    if (o.status === 'used') q = q.where('used_at', 'is not', null);
    if (o.status === 'expired')
      q = q
        .where('used_at', 'is', null)
        .where((eb) => eb.or([eb('status', '=', 'expired'), eb.and([eb('status', '!=', 'denied'), eb('expires_at', '<=', now)])]));
    const rows = await q.orderBy('created_at', 'desc').limit(o.limit).execute();
    return rows.map((r) => this.#viewOf(r, now));
  }

  /** May `who` decide this approval? The grant's approvers say: the user, the agent's owner, a group, operators. */
  async mayDecide(approval: ApprovalView, who: Decider): Promise<boolean> {
    for (const a of approval.approvers) {
      if (who.kind === 'admin') {
        if (a === 'admin') return true;
        continue;
      }
      if (a === 'user' && who.userId === approval.userId) return true;
      if (a === 'owner' && who.userId === (await this.#d.ownerOf(approval.agentId))) return true;
      if (a.startsWith('group:') && who.groups.includes(a.slice('group:'.length))) return true;
    }
    return false;
  }

  /** Someone who may not decide an approval tried to see it: audited like a refused decision. */
  refusedViewer(approval: ApprovalView, who: Decider): void {
    const by = who.kind === 'admin' ? who.actor : `user:${who.userId}`;
    this.#audit('approval.refused', rowRef(approval), 'deny', 'not_an_approver', { by, viewed: true });
  }

  /** Approves or denies a pending, unexpired approval, once; refused (and audited) for anyone who may not decide it. */
  async decide(id: string, o: { approve: boolean; who: Decider; reason: string }): Promise<ApprovalView> {
    const approval = await this.get(id);
    if (approval === undefined) throw new ApprovalError('not_found', `no approval ${id}`);
    const by = o.who.kind === 'admin' ? o.who.actor : `user:${o.who.userId}`;
    if (!(await this.mayDecide(approval, o.who))) {
      this.#audit('approval.refused', rowRef(approval), 'deny', 'not_an_approver', { by });
      throw new ApprovalError('forbidden', `${by} may not decide approval ${id} (approvers: ${approval.approvers.join(', ')})`);
    }
    if (approval.status !== 'pending') throw new ApprovalError('not_pending', `approval ${id} is ${approval.status}`);
    if (o.approve && approval.argumentsUnreadable === true) {
      // Nobody approves a call they cannot see; denying it needs no sight of it.
      this.#audit('approval.refused', rowRef(approval), 'deny', 'arguments_unreadable', { by });
      throw new ApprovalError('unreadable', `approval ${id}: its arguments cannot be read with the KEKs this node holds`);
    }
    const now = this.#d.now();
    const res = await this.#d.db
      .updateTable('approvals')
      .set({
        status: o.approve ? 'approved' : 'denied',
        decided_at: now,
        decided_by: by,
        reason: o.reason,
        // An approved call must be made again soon; a denial stands as long as the approval would have.
        expires_at: o.approve ? now + this.#d.approvedSeconds * 1000 : approval.expiresAt,
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (res.numUpdatedRows !== 1n) throw new ApprovalError('not_pending', `approval ${id} was decided or expired meanwhile`);
    this.#audit('approval.decided', rowRef(approval), o.approve ? 'allow' : 'deny', o.approve ? 'approved' : 'denied', {
      by,
      reason: o.reason,
    });
    return (await this.get(id)) as ApprovalView;
  }

  /** The call as stored: its arguments sealed for this approval alone, the rest (what the audit names) in clear. */
  #atRest(id: string, call: CallToApprove): Pick<ApprovalRow, 'call' | 'arguments_envelope'> {
    return {
      call: JSON.stringify({ ...call, arguments: null }),
      arguments_envelope: sealEnvelope(this.#d.keys, Buffer.from(canonicalJson(call.arguments ?? null)), approvalAad(id)),
    };
  }

  /**
   * An envelope that does not open (another KEK, or edited) leaves the arguments out and marks the view, so one such
   * row neither hides the others from a list nor can be approved blind (`decide`).
   */
  #viewOf(r: ApprovalRow, now: number): ApprovalView {
    const call = JSON.parse(r.call) as CallToApprove;
    if (r.arguments_envelope === null) return viewOf(r, call, now);
    try {
      call.arguments = JSON.parse(openEnvelope(this.#d.keys, r.arguments_envelope, approvalAad(r.id)).toString('utf8')) as unknown;
    } catch (err) {
      if (!(err instanceof CryptoError)) throw err;
      return { ...viewOf(r, { ...call, arguments: null }, now), argumentsUnreadable: true };
    }
    return viewOf(r, call, now);
  }

  #required(id: string): WritError {
    return new WritError('ERR_APPROVAL_REQUIRED', `approval ${id} is pending`, this.#hint(id));
  }

  #hint(id: string): { approval_id: string; approval_url: string; poll_url: string } {
    return { approval_id: id, approval_url: this.approvalUrl(id), poll_url: this.pollUrl(id) };
  }

  #audit(
    type: string,
    row: Pick<ApprovalRow, 'id' | 'task_id' | 'agent_id' | 'user_id' | 'resource_id' | 'call'>,
    decision: 'allow' | 'deny',
    reason: string,
    data: Record<string, unknown>,
  ): void {
    const call = JSON.parse(row.call) as CallToApprove;
    this.#d.audit.record({
      type,
      task_id: row.task_id,
      agent_id: row.agent_id,
      user_id: row.user_id,
      actor_chain: call.actorChain,
      resource: row.resource_id,
      action: `${call.action} ${call.target}`.slice(0, 600),
      decision,
      reason,
      data: { approval: row.id, ...data },
    });
  }
}

function rowRef(a: ApprovalView): Pick<ApprovalRow, 'id' | 'task_id' | 'agent_id' | 'user_id' | 'resource_id' | 'call'> {
  return { id: a.id, task_id: a.taskId, agent_id: a.agentId, user_id: a.userId, resource_id: a.resourceId, call: JSON.stringify(a.call) };
}

function viewOf(r: ApprovalRow, call: CallToApprove, now: number): ApprovalView {
  const status: ApprovalStatus =
    r.used_at !== null ? 'used' : r.status === 'denied' ? 'denied' : r.expires_at <= now ? 'expired' : r.status;
  return {
    id: r.id,
    status,
    taskId: r.task_id,
    agentId: r.agent_id,
    userId: r.user_id,
    resourceId: r.resource_id,
    call,
    approvers: JSON.parse(r.approvers) as string[],
    policies: JSON.parse(r.policies) as string[],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedAt: r.decided_at,
    decidedBy: r.decided_by,
    reason: r.reason,
    usedAt: r.used_at,
  };
}

export type { Approver };
