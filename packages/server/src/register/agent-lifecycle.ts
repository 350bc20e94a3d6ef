/**
 * The register's lifecycle of agents: who owns one, until when it may act, when it is due for review, when it last
 * acted, and what happens to it when its owner leaves.
 *
 * - `last_used_at` is written in batches: a token issued or a call made only notes the time in memory (one Map write
 *   on the hot path); `flush` writes what was noted, one statement per agent in one transaction, and never moves a
 *   time backwards (several nodes may note the same agent). Reads merge what this node has not written yet.
 * - An owner is offboarded by a user revocation of their Writ user id: their agents are suspended (every token they
 *   hold revoked) or flagged, as `agents.onOwnerOffboarded` says.
 * - An agent whose end date has passed is refused wherever the register is read (agent-standing.ts); `endExpired`
 *   also revokes every token it holds, once per end date, so services that see only revocations (the verifier
 *   middleware, Shared Signals receivers) stop it too.
 * - `review` lists what is due: registrations ended or ending, reviews due, owners gone, agents never or long unused.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { AdminError } from '../errors/index.js';
import type { Agent } from './entities.js';
import { agentUpdateInput } from './inputs.js';
import type { Register } from './register.js';

export type OwnerOffboardedAction = 'suspend' | 'flag';

export interface AgentLifecycleDeps {
  db: Kysely<Database>;
  register: Pick<Register, 'getAgent' | 'listAgents' | 'noteAgentChange'>;
  now: () => number;
  onOwnerOffboarded: OwnerOffboardedAction;
}

export type ReviewReason = 'expired' | 'expiring' | 'review_due' | 'owner_offboarded' | 'never_used' | 'unused';

export interface ReviewItem {
  agent: string;
  name: string;
  owner: string;
  status: Agent['status'];
  reasons: ReviewReason[];
  expiresAt: number | null;
  reviewBy: number | null;
  lastUsedAt: number | null;
}

/** At most this many agents' times wait in memory; past it the oldest noted is dropped (its next use notes it again). */
const MAX_PENDING = 100_000;

export class AgentLifecycle {
  readonly #d: AgentLifecycleDeps;
  readonly #pending = new Map<string, number>();
  #flushing: Promise<number> | undefined;

  constructor(deps: AgentLifecycleDeps) {
    this.#d = deps;
  }

  get onOwnerOffboarded(): OwnerOffboardedAction {
    return this.#d.onOwnerOffboarded;
  }

  /** The agent acted at `at` (epoch ms): remembered until the next flush. */
  touch(agentId: string, at: number): void {
    if (this.#pending.size >= MAX_PENDING && !this.#pending.has(agentId)) this.#pending.delete(this.#pending.keys().next().value as string);
    this.#pending.set(agentId, at);
  }

  /** Writes every noted time; returns how many agents were written. One flush at a time. */
  flush(): Promise<number> {
    this.#flushing ??= this.#flush().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #flush(): Promise<number> {
    if (this.#pending.size === 0) return 0;
    const batch = [...this.#pending];
    this.#pending.clear();
    try {
      await this.#d.db.transaction().execute(async (trx) => {
        for (const [id, at] of batch)
          await trx
            .updateTable('agents')
            .set({ last_used_at: at })
            .where('id', '=', id)
            .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
            .execute();
      });
    } catch (err) {
      // Kept for the next flush, unless a newer use was noted meanwhile.
      for (const [id, at] of batch) if ((this.#pending.get(id) ?? 0) < at) this.#pending.set(id, at);
      throw err;
    }
    return batch.length;
  }

  /** The agent as stored, with this node's use not yet written. */
  withLastUse(agent: Agent): Agent {
    const noted = this.#pending.get(agent.id);
    return noted !== undefined && (agent.lastUsedAt === null || agent.lastUsedAt < noted) ? { ...agent, lastUsedAt: noted } : agent;
  }

  /** Changes an agent's name, owner, description, end date or review date; audited (`agent.updated`) and announced. */
  async update(id: string, input: unknown, actor: string): Promise<Agent> {
    const parsed = agentUpdateInput.safeParse(input);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(body)'}: ${i.message}`);
      throw new AdminError('ERR_ADMIN_INVALID_REQUEST', details.join('; '), details);
    }
    const u = parsed.data;
    const set = {
      ...(u.name !== undefined ? { name: u.name } : {}),
      ...(u.owner !== undefined ? { owner: u.owner, owner_offboarded_at: null } : {}),
      ...(u.description !== undefined ? { description: u.description } : {}),
      ...(u.expiresAt !== undefined ? { expires_at: u.expiresAt } : {}),
      ...(u.reviewBy !== undefined ? { review_by: u.reviewBy } : {}),
      updated_at: this.#d.now(),
    };
    const res = await this.#d.db.updateTable('agents').set(set).where('id', '=', id).executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no agent ${id}`);
    this.#d.register.noteAgentChange(id, actor, 'agent.updated', { ...u });
    return this.withLastUse(await this.#d.register.getAgent(id));
  }

  /**
   * The owner `userId` was offboarded (their user revocation): each agent they own is flagged, and — when the
   * configuration says `suspend` — suspended through `suspend` (which also revokes every token it holds). Returns the
   * agents it touched.
   */
  async ownerOffboarded(userId: string, actor: string, suspend: (agentId: string) => Promise<void>): Promise<string[]> {
    const now = this.#d.now();
    const owned = await this.#d.db
      .selectFrom('agents')
      .select(['id', 'status'])
      .where('owner', '=', userId)
      .where('owner_offboarded_at', 'is', null)
      .execute();
    const touched: string[] = [];
    for (const a of owned) {
      const flagged = await this.#d.db
        .updateTable('agents')
        .set({ owner_offboarded_at: now, updated_at: now })
        .where('id', '=', a.id)
        .where('owner_offboarded_at', 'is', null)
        .executeTakeFirst();
      if (flagged.numUpdatedRows === 0n) continue; // another request got there first
      touched.push(a.id);
      this.#d.register.noteAgentChange(a.id, actor, 'agent.owner_offboarded', { owner: userId, action: this.#d.onOwnerOffboarded });
      if (this.#d.onOwnerOffboarded === 'suspend' && a.status === 'active') await suspend(a.id);
    }
    return touched;
  }

  /**
   * Revokes (through `revoke`) what every agent whose end date has passed holds, once per end date: a later end date
   * that passes again is enforced again. Returns the agents revoked now.
   */
  async endExpired(revoke: (agentId: string) => Promise<void>): Promise<string[]> {
    const now = this.#d.now();
    const due = await this.#d.db
      .selectFrom('agents')
      .select(['id', 'expires_at'])
      .where('expires_at', '<=', now)
      .where((eb) => eb.or([eb('expiry_enforced_at', 'is', null), eb('expiry_enforced_at', '<', eb.ref('expires_at'))]))
      .execute();
    const ended: string[] = [];
    for (const a of due) {
      // Revoked first, marked after: a crash in between revokes again next time, which is harmless.
      await revoke(a.id);
      await this.#d.db.updateTable('agents').set({ expiry_enforced_at: now }).where('id', '=', a.id).execute();
      ended.push(a.id);
    }
    return ended;
  }

  /**
   * What is due, at the register's current state: `withinMs` ahead for ends and reviews, `unusedMs` for agents that
   * have not acted (an agent younger than that is not yet "never used").
   */
  async review(o: { withinMs: number; unusedMs: number }): Promise<ReviewItem[]> {
    const now = this.#d.now();
    const items: ReviewItem[] = [];
    for (const stored of await this.#d.register.listAgents()) {
      const a = this.withLastUse(stored);
      if (a.status === 'offboarded') continue;
      const reasons: ReviewReason[] = [];
      if (a.expiresAt !== null) {
        if (a.expiresAt <= now) reasons.push('expired');
        else if (a.expiresAt <= now + o.withinMs) reasons.push('expiring');
      }
      if (a.reviewBy !== null && a.reviewBy <= now + o.withinMs) reasons.push('review_due');
      if (a.ownerOffboardedAt !== null) reasons.push('owner_offboarded');
      if (a.lastUsedAt === null) {
        if (a.createdAt <= now - o.unusedMs) reasons.push('never_used');
      } else if (a.lastUsedAt <= now - o.unusedMs) reasons.push('unused');
      if (reasons.length === 0) continue;
      items.push({
        agent: a.id,
        name: a.name,
        owner: a.owner,
        status: a.status,
        reasons,
        expiresAt: a.expiresAt,
        reviewBy: a.reviewBy,
        lastUsedAt: a.lastUsedAt,
      });
    }
    return items;
  }
}
