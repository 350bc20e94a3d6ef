/**
 * A sign-in at the identity provider is bound to the browser that started it: `oauth_logins.browser_hash` is the
 * digest of a cookie set with the redirect, checked at the callback (authorization/identity-provider-login.ts).
 * Sign-ins in flight during the upgrade have none and are refused; people start again.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('oauth_logins').addColumn('browser_hash', 'text').execute();
}
