/**
 * An approval's arguments (MCP arguments; for HTTP the body's digest, size and beginning) are sealed with the KEK
 * (`arguments_envelope`), like every other secret Writ keeps, and its call digest becomes keyed (HMAC under a key
 * derived from the KEK), so the stored digest cannot confirm a guess at low-entropy arguments. Rows stored before
 * hold their arguments in `call` and an unkeyed digest: the server seals and re-digests them at start (it holds the
 * KEK; a migration does not).
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('approvals').addColumn('arguments_envelope', 'text').execute();
}
