/**
 * What a stock client's grant writes: an access token's row and its refresh token's, together or not at all, and for
 * a refresh, only if the presented refresh token is used up by the same write. On PostgreSQL each is one statement
 * (data-modifying CTEs, atomic as any statement is): one round trip where a transaction takes four or five. SQLite runs
 * in this process, where a transaction costs no round trips.
 */
import type { Insertable, Kysely } from 'kysely';
import { dialectOf, type Database, type OAuthRefreshTokensTable, type TokensTable } from '../storage/index.js';

export interface GrantRows {
  token: Insertable<TokensTable>;
  refresh: Insertable<OAuthRefreshTokensTable>;
}

/** Writes an access token and its refresh token (a redeemed authorization code's). */
export async function writeGrantRows(db: Kysely<Database>, rows: GrantRows): Promise<void> {
  if (dialectOf(db) === 'postgres') {
    await db
      .with('token', (d) => d.insertInto('tokens').values(rows.token).returning('jti'))
      .insertInto('oauth_refresh_tokens')
      .values(rows.refresh)
      .execute();
    return;
  }
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('tokens').values(rows.token).execute();
    await trx.insertInto('oauth_refresh_tokens').values(rows.refresh).execute();
  });
}

/**
 * Uses up the refresh token `usedHash` (unless it is used or revoked already) and writes its successor with the new
 * access token, in one commit: the old token is spent exactly when its successor exists. False, and nothing written,
 * when it was not spendable (presented twice, or revoked meanwhile).
 */
export async function rotateRefreshToken(db: Kysely<Database>, usedHash: string, usedAt: number, rows: GrantRows): Promise<boolean> {
  if (dialectOf(db) === 'postgres') {
    // The inserts select from the update's result: with no row used up, they insert nothing.
    const r = await db
      .with('used', (d) =>
        d
          .updateTable('oauth_refresh_tokens')
          .set({ used_at: usedAt })
          .where('token_hash', '=', usedHash)
          .where('used_at', 'is', null)
          .where('revoked_at', 'is', null)
          .returning('token_hash'),
      )
      .with('token', (d) => {
        const columns = columnsOf(rows.token);
        return d
          .insertInto('tokens')
          .columns(columns)
          .expression((eb) => eb.selectFrom('used').select(columns.map((c) => eb.val(rows.token[c]).as(c))))
          .returning('jti');
      })
      .insertInto('oauth_refresh_tokens')
      .columns(columnsOf(rows.refresh))
      .expression((eb) => eb.selectFrom('used').select(columnsOf(rows.refresh).map((c) => eb.val(rows.refresh[c]).as(c))))
      .executeTakeFirst();
    return r.numInsertedOrUpdatedRows === 1n;
  }
  return db.transaction().execute(async (trx) => {
    const taken = await trx
      .updateTable('oauth_refresh_tokens')
      .set({ used_at: usedAt })
      .where('token_hash', '=', usedHash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (taken.numUpdatedRows === 0n) return false;
    await trx.insertInto('tokens').values(rows.token).execute();
    await trx.insertInto('oauth_refresh_tokens').values(rows.refresh).execute();
    return true;
  });
}

/** The columns a row sets, the same ones the SQLite path's `values(row)` writes. */
function columnsOf<R extends object>(row: R): Array<keyof R & string> {
  return Object.keys(row) as Array<keyof R & string>;
}
