/**
 * Remembered consents: a person asked Writ to reuse what they approved for one client and resource, for
 * `authorization.rememberConsentDays`. Listing and withdrawing them is the admin API's (`writ consents list|revoke`);
 * withdrawing one also ends the tasks it let the client start for that person at that resource.
 */
import type { Kysely } from 'kysely';
import type { TaskAuthorizationDetail } from '@writ/protocol';
import { AdminError } from '../errors/index.js';
import { randomId } from '../ids/index.js';
import type { AuditPort } from '../audit/index.js';
import type { Database, OAuthConsentRow } from '../storage/index.js';
import type { TaskService } from '../tasks/index.js';

export interface Consent {
  id: string;
  userId: string;
  clientId: string;
  agentId: string;
  resourceId: string;
  authorizationDetails: TaskAuthorizationDetail[];
  durationSeconds: number;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  status: 'active' | 'expired' | 'revoked';
}

export class Consents {
  readonly #db: Kysely<Database>;
  readonly #days: number;
  readonly #tasks: Pick<TaskService, 'list' | 'end'>;
  readonly #audit: AuditPort;
  readonly #now: () => number;

  constructor(deps: {
    db: Kysely<Database>;
    rememberDays: number;
    tasks: Pick<TaskService, 'list' | 'end'>;
    audit: AuditPort;
    now: () => number;
  }) {
    this.#db = deps.db;
    this.#days = deps.rememberDays;
    this.#tasks = deps.tasks;
    this.#audit = deps.audit;
    this.#now = deps.now;
  }

  /** The consent in force for this user, client and resource, if any. */
  async find(userId: string, clientId: string, resourceId: string): Promise<Consent | undefined> {
    if (this.#days === 0) return undefined;
    const row = await this.#db
      .selectFrom('oauth_consents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .where('resource_id', '=', resourceId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', this.#now())
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    return row === undefined ? undefined : this.#of(row);
  }

  /** Remember a consent; it replaces any earlier one for the same user, client and resource. */
  async remember(c: {
    userId: string;
    clientId: string;
    agentId: string;
    resourceId: string;
    authorizationDetails: TaskAuthorizationDetail[];
    durationSeconds: number;
  }): Promise<Consent> {
    const now = this.#now();
    const id = randomId('consent');
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('oauth_consents')
        .set({ revoked_at: now })
        .where('user_id', '=', c.userId)
        .where('client_id', '=', c.clientId)
        .where('resource_id', '=', c.resourceId)
        .where('revoked_at', 'is', null)
        .execute();
      await trx
        .insertInto('oauth_consents')
        .values({
          id,
          user_id: c.userId,
          client_id: c.clientId,
          agent_id: c.agentId,
          resource_id: c.resourceId,
          authorization_details: JSON.stringify(c.authorizationDetails),
          duration_seconds: c.durationSeconds,
          created_at: now,
          expires_at: now + this.#days * 86_400_000,
          revoked_at: null,
        })
        .execute();
    });
    return this.get(id);
  }

  async get(id: string): Promise<Consent> {
    const row = await this.#db.selectFrom('oauth_consents').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no consent ${id}`);
    return this.#of(row);
  }

  async list(
    q: { userId?: string | undefined; clientId?: string | undefined; agentId?: string | undefined; all?: boolean } = {},
  ): Promise<Consent[]> {
    let query = this.#db.selectFrom('oauth_consents').selectAll();
    if (q.userId !== undefined) query = query.where('user_id', '=', q.userId);
    if (q.clientId !== undefined) query = query.where('client_id', '=', q.clientId);
    if (q.agentId !== undefined) query = query.where('agent_id', '=', q.agentId);
    if (q.all !== true) query = query.where('revoked_at', 'is', null).where('expires_at', '>', this.#now());
    const rows = await query.orderBy('created_at', 'desc').limit(1000).execute();
    return rows.map((r) => this.#of(r));
  }

  /** Withdraw a consent: never reused again, and the tasks it let the client start for that user there end now. */
  async revoke(id: string, actor: string, reason = 'consent withdrawn'): Promise<Consent> {
    const c = await this.get(id);
    if (c.revokedAt === null) {
      await this.#db
        .updateTable('oauth_consents')
        .set({ revoked_at: this.#now() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    }
    const tasks = await this.#tasks.list({ agentId: c.agentId, userId: c.userId, status: 'active', limit: 1000 });
    for (const t of tasks) if (t.resourceId === c.resourceId) await this.#tasks.end(t.id, { status: 'revoked', reason, actor });
    this.#audit.record({
      type: 'consent.revoked',
      user_id: c.userId,
      agent_id: c.agentId,
      resource: c.resourceId,
      actor_chain: [actor],
      decision: 'deny',
      reason,
      data: { consent_id: id, client_id: c.clientId, tasks_ended: tasks.filter((t) => t.resourceId === c.resourceId).length },
    });
    return this.get(id);
  }

  #of(r: OAuthConsentRow): Consent {
    const now = this.#now();
    return {
      id: r.id,
      userId: r.user_id,
      clientId: r.client_id,
      agentId: r.agent_id,
      resourceId: r.resource_id,
      authorizationDetails: JSON.parse(r.authorization_details) as TaskAuthorizationDetail[],
      durationSeconds: r.duration_seconds,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      status: r.revoked_at !== null ? 'revoked' : r.expires_at <= now ? 'expired' : 'active',
    };
  }
}
