/**
 * Resources may be MCP servers (`kind` 'mcp'; `kind` is already free text, so existing rows stay 'http' and no
 * column changes) and may name scopes: RFC 6749 §3.3 scope names for bundles of authorization details, as JSON text.
 * Null for every existing resource: no scopes, exactly as before.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('resources').addColumn('scopes', 'text').execute();
}
