/**
 * Arguments in Cedar (issue: governance): the input schema of each MCP tool a grant's argument conditions name, as
 * the upstream listed it when the grant was written. Every node types `context.arguments` of the tool's Cedar action
 * from it, so all nodes decide with the schema the grant was validated against.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const ms = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('tool_schemas')
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('input_schema', 'text', (c) => c.notNull())
    .addColumn('recorded_at', ms, (c) => c.notNull())
    .addPrimaryKeyConstraint('tool_schemas_pk', ['resource_id', 'tool'])
    .execute();
}
