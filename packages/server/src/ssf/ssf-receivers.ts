/**
 * SSF receivers: the parties that may create and poll streams. An operator creates one through the admin API and
 * gets its bearer token once (256 random bits, stored only as a SHA-256 digest, compared in constant time — as admin
 * tokens are). A receiver sees only its own streams, and its audience is the `aud` of every SET it receives.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { randomId } from '../ids/index.js';
import type { AuditPort } from '../audit/index.js';
import type { Database, SsfReceiverRow } from '../storage/index.js';
import { AdminError } from '../errors/index.js';
import { RECEIVER_SCOPES, SSF_SCOPES, type SsfScope } from './ssf-vocabulary.js';

export const ssfReceiverInput = z.strictObject({
  name: z.string().min(1).max(200),
  /** The `aud` of this receiver's SETs: usually its own URL or client id. */
  audience: z.string().min(1).max(1000),
  /** Default: the two SSF scopes. `writ.revocation_feed` alone makes a credential for the verifier middleware's feed. */
  scopes: z.array(z.enum(RECEIVER_SCOPES)).min(1).max(3).optional(),
});

export interface SsfReceiver {
  id: string;
  name: string;
  audience: string;
  scopes: SsfScope[];
  created_at: number;
}

export class SsfReceivers {
  readonly #db: Kysely<Database>;
  readonly #audit: AuditPort;
  readonly #now: () => number;

  constructor(deps: { db: Kysely<Database>; audit: AuditPort; now?: () => number }) {
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#now = deps.now ?? Date.now;
  }

  /** A new receiver; its token is returned here and never again. */
  async create(input: z.output<typeof ssfReceiverInput>, actor: string): Promise<SsfReceiver & { token: string }> {
    const token = `writ_ssf_${randomBytes(32).toString('base64url')}`;
    const scopes = [...new Set(input.scopes ?? SSF_SCOPES)];
    const row = {
      id: randomId('ssfr'),
      name: input.name,
      audience: input.audience,
      scopes: JSON.stringify(scopes),
      token_hash: digest(token).toString('hex'),
      created_at: this.#now(),
    };
    await this.#db.insertInto('ssf_receivers').values(row).execute();
    this.#audit.record({
      type: 'admin.change',
      actor_chain: [actor],
      decision: 'allow',
      reason: 'ssf_receiver.created',
      data: { id: row.id, name: row.name, audience: row.audience, scopes },
    });
    return { ...fromRow(row), token };
  }

  async list(): Promise<SsfReceiver[]> {
    const rows = await this.#db.selectFrom('ssf_receivers').selectAll().orderBy('created_at').execute();
    return rows.map(fromRow);
  }

  /** Deletes the receiver, its streams and every SET still queued for them. */
  async delete(id: string, actor: string): Promise<void> {
    const deleted = await this.#db.transaction().execute(async (trx) => {
      const streams = trx.selectFrom('ssf_streams').select('id').where('receiver_id', '=', id);
      await trx.deleteFrom('ssf_events').where('stream_id', 'in', streams).execute();
      await trx.deleteFrom('ssf_subjects').where('stream_id', 'in', streams).execute();
      await trx.deleteFrom('ssf_streams').where('receiver_id', '=', id).execute();
      return trx.deleteFrom('ssf_receivers').where('id', '=', id).executeTakeFirst();
    });
    if (Number(deleted.numDeletedRows) === 0) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no SSF receiver ${id}`);
    this.#audit.record({ type: 'admin.change', actor_chain: [actor], decision: 'allow', reason: 'ssf_receiver.deleted', data: { id } });
  }

  /** The receiver a bearer token belongs to, or undefined. */
  async authenticate(token: string): Promise<SsfReceiver | undefined> {
    const d = digest(token);
    const row = await this.#db.selectFrom('ssf_receivers').selectAll().where('token_hash', '=', d.toString('hex')).executeTakeFirst();
    if (row === undefined || !timingSafeEqual(Buffer.from(row.token_hash, 'hex'), d)) return undefined;
    return fromRow(row);
  }

  async get(id: string): Promise<SsfReceiver | undefined> {
    const row = await this.#db.selectFrom('ssf_receivers').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function fromRow(r: Omit<SsfReceiverRow, 'token_hash'>): SsfReceiver {
  return { id: r.id, name: r.name, audience: r.audience, scopes: JSON.parse(r.scopes) as SsfScope[], created_at: r.created_at };
}
