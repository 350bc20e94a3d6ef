/**
 * The durable outbox: one signed SET per stream per event, written before anyone is told, delivered in order per
 * stream. Push workers lease a whole stream (`UPDATE … WHERE lease expired RETURNING`, one statement that both SQLite
 * and PostgreSQL make atomic), so several control nodes on one database deliver each SET once and in order; poll
 * clients read and acknowledge by `jti`. A `paused` stream holds its events; SSF control events (verification,
 * stream-updated) pass whatever the status.
 */
import type { Kysely } from 'kysely';
import type { Database, SsfEventRow } from '../storage/index.js';

import { setClaims, type SecurityEvent } from './security-event-token.js';
import type { SetSigningKey } from './set-signing-key.js';
import { EVENT_STREAM_UPDATED, EVENT_VERIFICATION } from './ssf-vocabulary.js';

const INSERT_BATCH = 500;

export interface OutboxTarget {
  id: string;
  aud: string;
}

export class SsfOutbox {
  readonly #db: Kysely<Database>;
  readonly #key: SetSigningKey;
  readonly #issuer: string;
  readonly #now: () => number;
  readonly #enqueued: (streamIds: string[]) => void;

  constructor(deps: {
    db: Kysely<Database>;
    key: SetSigningKey;
    issuer: string;
    now: () => number;
    onEnqueued: (streamIds: string[]) => void;
  }) {
    this.#db = deps.db;
    this.#key = deps.key;
    this.#issuer = deps.issuer;
    this.#now = deps.now;
    this.#enqueued = deps.onEnqueued;
  }

  /**
   * Signs one SET per stream and stores them; returns the jtis in the order of `streams`. Inside a caller's transaction
   * (`db`), nobody is woken: the caller does it once the transaction has committed (`announce: false`).
   */
  async enqueue(
    streams: readonly OutboxTarget[],
    event: SecurityEvent,
    opts: { db?: Kysely<Database>; announce?: boolean } = {},
  ): Promise<string[]> {
    if (streams.length === 0) return [];
    const now = this.#now();
    const control = event.type === EVENT_VERIFICATION || event.type === EVENT_STREAM_UPDATED ? 1 : 0;
    const rows = streams.map((s) => {
      const claims = setClaims(event, { issuer: this.#issuer, audience: s.aud, nowMs: now });
      return {
        stream_id: s.id,
        jti: claims.jti,
        event_type: event.type,
        control,
        set_jwt: this.#key.sign({ ...claims }),
        state: 'pending' as const,
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
        created_at: now,
        done_at: null,
      };
    });
    // Bounded statements: SQLite caps bound parameters per statement, and one revocation may reach many streams.
    const db = opts.db ?? this.#db;
    for (let i = 0; i < rows.length; i += INSERT_BATCH)
      await db
        .insertInto('ssf_events')
        .values(rows.slice(i, i + INSERT_BATCH))
        .execute();
    if (opts.announce !== false) this.#enqueued(streams.map((s) => s.id));
    return rows.map((r) => r.jti);
  }

  /** Pending SETs a poll may return, oldest first, and whether there are more than `limit`. */
  async deliverable(streamId: string, limit: number): Promise<{ events: SsfEventRow[]; more: boolean }> {
    const rows = await this.#deliverableQuery(streamId)
      .limit(limit + 1)
      .execute();
    return { events: rows.slice(0, limit), more: rows.length > limit };
  }

  /** Marks SETs acknowledged (or refused by the receiver, with its error): they are never returned again. */
  async settle(
    streamId: string,
    acks: readonly string[],
    errs: Readonly<Record<string, { err: string; description?: string | undefined }>>,
  ): Promise<void> {
    const now = this.#now();
    if (acks.length > 0)
      await this.#db
        .updateTable('ssf_events')
        .set({ state: 'delivered', done_at: now })
        .where('stream_id', '=', streamId)
        .where('state', '=', 'pending')
        .where('jti', 'in', [...acks])
        .execute();
    for (const [jti, e] of Object.entries(errs))
      await this.#db
        .updateTable('ssf_events')
        .set({ state: 'failed', done_at: now, last_error: JSON.stringify(e) })
        .where('stream_id', '=', streamId)
        .where('state', '=', 'pending')
        .where('jti', '=', jti)
        .execute();
  }

  /** Drops what a stream still holds (it was disabled: SSF says a disabled stream does not keep events). */
  async dropPending(streamId: string): Promise<void> {
    await this.#db.deleteFrom('ssf_events').where('stream_id', '=', streamId).where('state', '=', 'pending').execute();
  }

  /**
   * Push streams with a SET due now, leased or not: a worker that finds one leased by another node looks again soon,
   * since that node may end its pass before it sees the SET just stored.
   */
  async dueStreams(limit: number): Promise<string[]> {
    const now = this.#now();
    const rows = await this.#db
      .selectFrom('ssf_events as e')
      .innerJoin('ssf_streams as s', 's.id', 'e.stream_id')
      .select('e.stream_id')
      .distinct()
      .where('e.state', '=', 'pending')
      .where('e.next_attempt_at', '<=', now)
      .where('s.delivery_method', '=', 'urn:ietf:rfc:8935')
      .where((eb) => eb.or([eb('e.control', '=', 1), eb('s.status', '=', 'enabled')]))
      .limit(limit)
      .execute();
    return rows.map((r) => r.stream_id);
  }

  /**
   * When a push SET that failed before is next due: its retry time, or the end of the lease another worker holds on
   * its stream. SETs never attempted are found by the wake-up and the sweep, not here.
   */
  async nextRetryAt(): Promise<number | undefined> {
    const rows = await this.#db
      .selectFrom('ssf_events as e')
      .innerJoin('ssf_streams as s', 's.id', 'e.stream_id')
      .select(['e.next_attempt_at', 's.leased_until'])
      .where('e.state', '=', 'pending')
      .where('e.attempts', '>', 0)
      .where('s.delivery_method', '=', 'urn:ietf:rfc:8935')
      .where((eb) => eb.or([eb('e.control', '=', 1), eb('s.status', '=', 'enabled')]))
      .orderBy('e.next_attempt_at')
      .limit(100)
      .execute();
    let at: number | undefined;
    for (const r of rows) {
      const due = Math.max(r.next_attempt_at, r.leased_until ?? 0);
      at = at === undefined ? due : Math.min(at, due);
    }
    return at;
  }

  /** Takes the stream's lease for `ms`; false when another worker (here or on another node) holds it. */
  async lease(streamId: string, owner: string, ms: number): Promise<boolean> {
    const now = this.#now();
    const r = await this.#db
      .updateTable('ssf_streams')
      .set({ lease_owner: owner, leased_until: now + ms })
      .where('id', '=', streamId)
      .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<', now), eb('lease_owner', '=', owner)]))
      .returning('id')
      .executeTakeFirst();
    return r !== undefined;
  }

  async release(streamId: string, owner: string): Promise<void> {
    await this.#db
      .updateTable('ssf_streams')
      .set({ lease_owner: null, leased_until: null })
      .where('id', '=', streamId)
      .where('lease_owner', '=', owner)
      .execute();
  }

  /** The next SET of a stream in order, if it is due. A SET waiting for its retry blocks the ones after it. */
  async head(streamId: string): Promise<SsfEventRow | undefined> {
    const row = await this.#deliverableQuery(streamId).limit(1).executeTakeFirst();
    return row === undefined || row.next_attempt_at > this.#now() ? undefined : row;
  }

  async delivered(seq: number): Promise<void> {
    await this.#db.updateTable('ssf_events').set({ state: 'delivered', done_at: this.#now() }).where('seq', '=', seq).execute();
  }

  async failed(seq: number, error: string): Promise<void> {
    await this.#db
      .updateTable('ssf_events')
      .set({ state: 'failed', done_at: this.#now(), last_error: error })
      .where('seq', '=', seq)
      .execute();
  }

  async retryLater(seq: number, attempts: number, delayMs: number, error: string): Promise<void> {
    await this.#db
      .updateTable('ssf_events')
      .set({ attempts, next_attempt_at: this.#now() + delayMs, last_error: error })
      .where('seq', '=', seq)
      .execute();
  }

  /** Forgets settled SETs older than `ageMs`: the outbox holds what is still to deliver, not a history. */
  async prune(ageMs: number): Promise<void> {
    await this.#db
      .deleteFrom('ssf_events')
      .where('state', '!=', 'pending')
      .where('done_at', '<', this.#now() - ageMs)
      .execute();
  }

  #deliverableQuery(streamId: string) {
    return this.#db
      .selectFrom('ssf_events as e')
      .innerJoin('ssf_streams as s', 's.id', 'e.stream_id')
      .selectAll('e')
      .where('e.stream_id', '=', streamId)
      .where('e.state', '=', 'pending')
      .where((eb) => eb.or([eb('e.control', '=', 1), eb('s.status', '=', 'enabled')]))
      .orderBy('e.seq');
  }
}
