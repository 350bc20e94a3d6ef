/**
 * Connected accounts (`user_oauth` secrets): each person's own grant at an upstream, connected once by them
 * (authorization code + PKCE, Writ the OAuth client) and used for their calls only. Writ keeps the refresh token,
 * sealed under the KEK and bound to its row (AAD `connection:<secret>:<user>`), so a token copied to another person's
 * row does not open; access tokens are minted from it per call and live in memory only (upstream-token-minter.ts).
 *
 * A connect in progress is bound to the secret, the signed-in user and their sign-in session: its `state` is stored as
 * a digest, used once, and good for ten minutes, so a callback cannot be replayed, carried to another person's
 * session, or finished for another upstream.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  openEnvelope,
  sealEnvelope,
  SecretValue,
  sha256Hex,
  type KeyEncryptionKey,
  type KeyRing,
  type SealedColumn,
} from '../crypto/index.js';
import type { Database } from '../storage/index.js';
import type { ConnectionStore, StoredRefreshToken } from './upstream-token-minter.js';

const CONNECT_WINDOW_MS = 10 * 60_000;

export type ConnectionStatus = 'active' | 'revoked' | 'lapsed';

/** What anyone may see of a connection: never the token. */
export interface ConnectionSummary {
  secret_id: string;
  user_id: string;
  status: ConnectionStatus;
  scope: string | null;
  created_at: number;
  updated_at: number;
}

export function connectionAad(secretId: string, userId: string): string {
  return `connection:${secretId}:${userId}`;
}

/** Where refresh tokens are sealed (for `writ vault rotate-kek`). */
export const CONNECTION_ENVELOPES: SealedColumn = {
  name: 'connected accounts',
  table: 'upstream_connections',
  key: ['secret_id', 'user_id'],
  column: 'refresh_envelope',
  aad: (row) => connectionAad(String(row['secret_id']), String(row['user_id'])),
};

/** A connect that was started: what the callback needs, once. */
export interface PendingConnect {
  secretId: string;
  userId: string;
  sessionHash: string;
  verifier: string;
  expiresAt: number;
}

export class Connections implements ConnectionStore {
  readonly #db: Kysely<Database>;
  readonly #kek: KeyEncryptionKey | KeyRing;
  readonly #now: () => number;

  constructor(deps: { db: Kysely<Database>; kek: KeyEncryptionKey | KeyRing; now: () => number }) {
    this.#db = deps.db;
    this.#kek = deps.kek;
    this.#now = deps.now;
  }

  async list(filter: { secretId?: string | undefined; userId?: string | undefined } = {}): Promise<ConnectionSummary[]> {
    let q = this.#db
      .selectFrom('upstream_connections')
      // Explicit columns: the envelope is never selected on a path that leads to an answer.
      .select(['secret_id', 'user_id', 'status', 'scope', 'created_at', 'updated_at'])
      .orderBy('secret_id')
      .orderBy('user_id');
    if (filter.secretId !== undefined) q = q.where('secret_id', '=', filter.secretId);
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
    return q.execute();
  }

  /** Stores a person's new grant (a connect that completed): active, replacing whatever was there. */
  async save(secretId: string, userId: string, refreshToken: SecretValue, scope: string | undefined): Promise<void> {
    const t = this.#now();
    const envelope = this.#seal(secretId, userId, refreshToken);
    await this.#db
      .insertInto('upstream_connections')
      .values({
        secret_id: secretId,
        user_id: userId,
        status: 'active',
        refresh_envelope: envelope,
        scope: scope ?? null,
        created_at: t,
        updated_at: t,
      })
      .onConflict((oc) =>
        oc
          .columns(['secret_id', 'user_id'])
          .doUpdateSet({ status: 'active', refresh_envelope: envelope, scope: scope ?? null, updated_at: t }),
      )
      .execute();
  }

  async refreshToken(secretId: string, userId: string): Promise<StoredRefreshToken | undefined> {
    const row = await this.#db
      .selectFrom('upstream_connections')
      .select(['status', 'refresh_envelope'])
      .where('secret_id', '=', secretId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (row === undefined || row.status !== 'active' || row.refresh_envelope === null) return undefined;
    const plain = openEnvelope(this.#kek, row.refresh_envelope, connectionAad(secretId, userId));
    const value = new SecretValue(plain.toString('utf8'));
    plain.fill(0);
    return { value, envelope: row.refresh_envelope };
  }

  async rotated(secretId: string, userId: string, was: string, next: SecretValue): Promise<void> {
    await this.#db
      .updateTable('upstream_connections')
      .set({ refresh_envelope: this.#seal(secretId, userId, next), updated_at: this.#now() })
      .where('secret_id', '=', secretId)
      .where('user_id', '=', userId)
      .where('status', '=', 'active')
      .where('refresh_envelope', '=', was)
      .execute();
  }

  async lapsed(secretId: string, userId: string, was: string): Promise<boolean> {
    const res = await this.#db
      .updateTable('upstream_connections')
      .set({ status: 'lapsed', refresh_envelope: null, updated_at: this.#now() })
      .where('secret_id', '=', secretId)
      .where('user_id', '=', userId)
      .where('refresh_envelope', '=', was)
      .executeTakeFirst();
    if (res.numUpdatedRows > 0n) return true;
    // Not the stored token any more: rotated by another node (still active), or the connection is gone.
    const now = await this.#db
      .selectFrom('upstream_connections')
      .select('status')
      .where('secret_id', '=', secretId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return now?.status !== 'active';
  }

  /**
   * Revokes connections — one (`secretId` and `userId`), all of a person's, or all of a secret's — and returns the
   * refresh tokens they held, for revocation at the upstream (RFC 7009) where it has an endpoint for it.
   */
  async revoke(filter: {
    secretId?: string;
    userId?: string;
  }): Promise<Array<{ secretId: string; userId: string; refreshToken: SecretValue }>> {
    if (filter.secretId === undefined && filter.userId === undefined) throw new TypeError('revoke needs a secret, a user or both');
    return this.#db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('upstream_connections').select(['secret_id', 'user_id', 'refresh_envelope']).where('status', '=', 'active');
      if (filter.secretId !== undefined) q = q.where('secret_id', '=', filter.secretId);
      if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
      const rows = await q.execute();
      const out: Array<{ secretId: string; userId: string; refreshToken: SecretValue }> = [];
      for (const r of rows) {
        await trx
          .updateTable('upstream_connections')
          .set({ status: 'revoked', refresh_envelope: null, updated_at: this.#now() })
          .where('secret_id', '=', r.secret_id)
          .where('user_id', '=', r.user_id)
          .execute();
        if (r.refresh_envelope === null) continue;
        try {
          const plain = openEnvelope(this.#kek, r.refresh_envelope, connectionAad(r.secret_id, r.user_id));
          out.push({ secretId: r.secret_id, userId: r.user_id, refreshToken: new SecretValue(plain.toString('utf8')) });
          plain.fill(0);
        } catch {
          // Revoked here all the same; only the courtesy revocation at the upstream is skipped.
        }
      }
      return out;
    });
  }

  /** Starts a connect for the signed-in `userId` in the session `sessionHash`: the `state` and PKCE verifier to use. */
  async begin(secretId: string, userId: string, sessionHash: string): Promise<{ state: string; verifier: string }> {
    const state = randomBytes(32).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const now = this.#now();
    await this.#db.deleteFrom('upstream_connect_states').where('expires_at', '<', now).execute();
    await this.#db
      .insertInto('upstream_connect_states')
      .values({
        state_hash: sha256Hex(state),
        secret_id: secretId,
        user_id: userId,
        session_hash: sessionHash,
        code_verifier: verifier,
        expires_at: now + CONNECT_WINDOW_MS,
      })
      .execute();
    return { state, verifier };
  }

  /** The connect `state` names, taken (it cannot be used again), or undefined: unknown, used or expired. */
  async take(state: string): Promise<PendingConnect | undefined> {
    const row = await this.#db
      .deleteFrom('upstream_connect_states')
      .where('state_hash', '=', sha256Hex(state))
      .returningAll()
      .executeTakeFirst();
    if (row === undefined || row.expires_at < this.#now()) return undefined;
    return {
      secretId: row.secret_id,
      userId: row.user_id,
      sessionHash: row.session_hash,
      verifier: row.code_verifier,
      expiresAt: row.expires_at,
    };
  }

  #seal(secretId: string, userId: string, token: SecretValue): string {
    const bytes = Buffer.from(token.reveal(), 'utf8');
    try {
      return sealEnvelope(this.#kek, bytes, connectionAad(secretId, userId));
    } finally {
      bytes.fill(0);
    }
  }
}
