/**
 * Streams (SSF §8.1.1): each belongs to one receiver, which alone may see, change, poll or delete it; its `aud` is
 * the receiver's audience. A push stream's `authorization_header` is a secret: sealed under the KEK, sent on every
 * push, never returned.
 */
import type { Kysely } from 'kysely';
import { PATHS } from '@writ/protocol';
import { openEnvelope, sealEnvelope, SecretValue, type KeyEncryptionKey, type KeyRing, type SealedColumn } from '../crypto/index.js';
import { randomId } from '../ids/index.js';

import type { Database, SsfStreamRow } from '../storage/index.js';
import { SsfError } from '../errors/index.js';
import type { SsfReceiver } from './ssf-receivers.js';
import type { StreamChanges } from './stream-input.js';
import { canonicalSubject } from './subject-identifier.js';
import {
  DELIVERY_POLL,
  DELIVERY_PUSH,
  EVENTS_SUPPORTED,
  MIN_VERIFICATION_INTERVAL_SECONDS,
  type DeliveryMethod,
  type StreamStatus,
} from './ssf-vocabulary.js';

/** The stream configuration object of SSF §8.1.1 as Writ returns it. */
export interface StreamConfiguration {
  stream_id: string;
  iss: string;
  aud: string;
  events_supported: string[];
  events_requested: string[];
  events_delivered: string[];
  delivery: { method: DeliveryMethod; endpoint_url: string };
  min_verification_interval: number;
  description?: string;
}

/** Where push streams' `Authorization` values are sealed (for `writ vault rotate-kek`). */
export const SSF_STREAM_ENVELOPES: SealedColumn = {
  name: 'shared signals push credentials',
  table: 'ssf_streams',
  key: ['id'],
  column: 'authorization_envelope',
  aad: (row) => `ssf-stream:${String(row['id'])}`,
};

export class SsfStreams {
  readonly #db: Kysely<Database>;
  readonly #kek: KeyEncryptionKey | KeyRing;
  readonly #issuer: string;
  readonly #now: () => number;

  constructor(deps: { db: Kysely<Database>; kek: KeyEncryptionKey | KeyRing; issuer: string; now: () => number }) {
    this.#db = deps.db;
    this.#kek = deps.kek;
    this.#issuer = deps.issuer;
    this.#now = deps.now;
  }

  async create(receiver: SsfReceiver, input: StreamChanges): Promise<StreamConfiguration> {
    const id = randomId('ssfs');
    const now = this.#now();
    await this.#db
      .insertInto('ssf_streams')
      .values({
        id,
        receiver_id: receiver.id,
        ...this.#receiverFields(id, input, undefined),
        status: 'enabled',
        status_reason: null,
        last_verification_at: null,
        lease_owner: null,
        leased_until: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return this.configuration(await this.get(receiver, id), receiver);
  }

  /** PATCH changes what the request names; PUT replaces every receiver-supplied member. */
  async update(receiver: SsfReceiver, id: string, input: StreamChanges, replace: boolean): Promise<StreamConfiguration> {
    const row = await this.get(receiver, id);
    const merged: StreamChanges = replace
      ? input
      : {
          events_requested: input.events_requested ?? (JSON.parse(row.events_requested) as string[]),
          description: input.description ?? row.description ?? undefined,
          delivery: input.delivery,
        };
    const fields = this.#receiverFields(id, merged, replace ? undefined : row);
    await this.#db
      .updateTable('ssf_streams')
      .set({ ...fields, updated_at: this.#now() })
      .where('id', '=', id)
      .where('receiver_id', '=', receiver.id)
      .execute();
    return this.configuration(await this.get(receiver, id), receiver);
  }

  async delete(receiver: SsfReceiver, id: string): Promise<void> {
    await this.get(receiver, id);
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('ssf_events').where('stream_id', '=', id).execute();
      await trx.deleteFrom('ssf_subjects').where('stream_id', '=', id).execute();
      await trx.deleteFrom('ssf_streams').where('id', '=', id).where('receiver_id', '=', receiver.id).execute();
    });
  }

  /** The stream if it is this receiver's; another receiver's stream is as unknown as a missing one. */
  async get(receiver: SsfReceiver, id: string): Promise<SsfStreamRow> {
    const row = await this.#db
      .selectFrom('ssf_streams')
      .selectAll()
      .where('id', '=', id)
      .where('receiver_id', '=', receiver.id)
      .executeTakeFirst();
    if (row === undefined) throw new SsfError('not_found', 'no such stream');
    return row;
  }

  async list(receiver: SsfReceiver): Promise<SsfStreamRow[]> {
    return this.#db.selectFrom('ssf_streams').selectAll().where('receiver_id', '=', receiver.id).orderBy('created_at').execute();
  }

  /** Streams that receive `eventType` now or later (enabled or paused), with their audiences. */
  /** `db`: a transaction to read in (the revocation's own), else the store. */
  async subscribed(eventType: string, db: Kysely<Database> = this.#db): Promise<Array<{ id: string; aud: string }>> {
    const rows = await db
      .selectFrom('ssf_streams as s')
      .innerJoin('ssf_receivers as r', 'r.id', 's.receiver_id')
      .select(['s.id', 's.events_requested', 'r.audience'])
      .where('s.status', 'in', ['enabled', 'paused'])
      .execute();
    return rows
      .filter((r) => delivered(JSON.parse(r.events_requested) as string[]).includes(eventType))
      .map((r) => ({ id: r.id, aud: r.audience }));
  }

  /** Returns the previous status. */
  async setStatus(receiver: SsfReceiver, id: string, status: StreamStatus, reason: string | undefined): Promise<StreamStatus> {
    const row = await this.get(receiver, id);
    await this.#db
      .updateTable('ssf_streams')
      .set({ status, status_reason: reason ?? null, updated_at: this.#now() })
      .where('id', '=', id)
      .execute();
    return row.status;
  }

  async addSubject(receiver: SsfReceiver, id: string, subject: unknown, verified: boolean): Promise<void> {
    await this.get(receiver, id);
    await this.#db
      .insertInto('ssf_subjects')
      .values({ stream_id: id, subject: canonicalSubject(subject), verified: verified ? 1 : 0, created_at: this.#now() })
      .onConflict((oc) => oc.columns(['stream_id', 'subject']).doUpdateSet({ verified: verified ? 1 : 0 }))
      .execute();
  }

  async removeSubject(receiver: SsfReceiver, id: string, subject: unknown): Promise<void> {
    await this.get(receiver, id);
    const r = await this.#db
      .deleteFrom('ssf_subjects')
      .where('stream_id', '=', id)
      .where('subject', '=', canonicalSubject(subject))
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new SsfError('not_found', 'the stream has no such subject');
  }

  async subjects(id: string): Promise<unknown[]> {
    const rows = await this.#db.selectFrom('ssf_subjects').select('subject').where('stream_id', '=', id).orderBy('created_at').execute();
    return rows.map((r) => JSON.parse(r.subject) as unknown);
  }

  /** Claims a verification slot: false when the last one is younger than `min_verification_interval`. */
  async claimVerification(receiver: SsfReceiver, id: string): Promise<boolean> {
    await this.get(receiver, id);
    const now = this.#now();
    const r = await this.#db
      .updateTable('ssf_streams')
      .set({ last_verification_at: now })
      .where('id', '=', id)
      .where((eb) =>
        eb.or([eb('last_verification_at', 'is', null), eb('last_verification_at', '<=', now - MIN_VERIFICATION_INTERVAL_SECONDS * 1000)]),
      )
      .returning('id')
      .executeTakeFirst();
    return r !== undefined;
  }

  /** The push target of a stream, with its `Authorization` value, or undefined for a poll stream. */
  async pushTarget(id: string): Promise<{ url: string; authorization: SecretValue | undefined } | undefined> {
    const row = await this.#db.selectFrom('ssf_streams').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined || row.delivery_method !== DELIVERY_PUSH || row.endpoint_url === null) return undefined;
    const authorization =
      row.authorization_envelope === null
        ? undefined
        : new SecretValue(openEnvelope(this.#kek, row.authorization_envelope, `ssf-stream:${id}`).toString('utf8'));
    return { url: row.endpoint_url, authorization };
  }

  configuration(row: SsfStreamRow, receiver: SsfReceiver): StreamConfiguration {
    const requested = JSON.parse(row.events_requested) as string[];
    return {
      stream_id: row.id,
      iss: this.#issuer,
      aud: receiver.audience,
      events_supported: [...EVENTS_SUPPORTED],
      events_requested: requested,
      events_delivered: delivered(requested),
      delivery: {
        method: row.delivery_method,
        endpoint_url: row.delivery_method === DELIVERY_PUSH ? (row.endpoint_url ?? '') : this.pollUrl(row.id),
      },
      min_verification_interval: MIN_VERIFICATION_INTERVAL_SECONDS,
      ...(row.description !== null ? { description: row.description } : {}),
    };
  }

  pollUrl(id: string): string {
    return `${this.#issuer}${PATHS.ssfPollPrefix}${encodeURIComponent(id)}`;
  }

  #receiverFields(
    id: string,
    input: StreamChanges,
    previous: SsfStreamRow | undefined,
  ): Pick<SsfStreamRow, 'events_requested' | 'delivery_method' | 'endpoint_url' | 'authorization_envelope' | 'description'> {
    const d = input.delivery ?? (previous !== undefined ? undefined : { method: DELIVERY_POLL });
    const base = {
      events_requested: JSON.stringify(input.events_requested ?? [...EVENTS_SUPPORTED]),
      description: input.description ?? null,
    };
    if (d === undefined && previous !== undefined)
      return {
        ...base,
        delivery_method: previous.delivery_method,
        endpoint_url: previous.endpoint_url,
        authorization_envelope: previous.authorization_envelope,
      };
    if (d === undefined || d.method === DELIVERY_POLL)
      return { ...base, delivery_method: DELIVERY_POLL, endpoint_url: null, authorization_envelope: null };
    // A PATCH that restates a push delivery without the header keeps the stored one: reads never return it.
    const keep =
      previous?.delivery_method === DELIVERY_PUSH && d.authorization_header === undefined ? previous.authorization_envelope : null;
    return {
      ...base,
      delivery_method: DELIVERY_PUSH,
      endpoint_url: d.endpoint_url,
      authorization_envelope:
        d.authorization_header !== undefined ? sealEnvelope(this.#kek, Buffer.from(d.authorization_header), `ssf-stream:${id}`) : keep,
    };
  }
}

/** `events_delivered` = supported ∩ requested (SSF §8.1.1). */
function delivered(requested: readonly string[]): string[] {
  return EVENTS_SUPPORTED.filter((e) => requested.includes(e));
}
