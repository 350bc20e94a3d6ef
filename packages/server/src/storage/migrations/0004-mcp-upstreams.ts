/**
 * MCP resources name their upstream servers (Streamable HTTP URLs, stdio commands Writ spawns, or several for a
 * composite) and whether standard clients may present bearer task tokens: one JSON column, null for every existing
 * resource, which keeps serving exactly as before (`kind` 'http' at `base_url`, or an MCP server at `base_url`).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('resources').addColumn('mcp', 'text').execute();
}
