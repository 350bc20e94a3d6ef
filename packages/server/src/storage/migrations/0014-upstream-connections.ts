/**
 * Connected accounts (`user_oauth` secrets): a person's own grant at an upstream, held by Writ for them. A connection
 * keeps the upstream's refresh token sealed under the KEK (AAD `connection:<secret>:<user>`), never an access token
 * (those live in memory only). A connect in progress keeps its `state` (as a digest), its PKCE verifier and the
 * sign-in session and user it is bound to, for the ten minutes a person may take at the upstream.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ms = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('upstream_connections')
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('refresh_envelope', 'text')
    .addColumn('scope', 'text')
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('updated_at', ms, (c) => c.notNull())
    .addPrimaryKeyConstraint('upstream_connections_pk', ['secret_id', 'user_id'])
    .execute();
  await db.schema.createIndex('upstream_connections_user_idx').on('upstream_connections').column('user_id').execute();
  await db.schema
    .createTable('upstream_connect_states')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('session_hash', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .execute();
}
