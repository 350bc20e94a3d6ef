/**
 * The policy side of grants: what Cedar is given. Which input schemas a grant is validated with (those recorded, and
 * what the upstreams list now for the tools it names), loading the enforced set and observe mode's candidate set, and
 * which grants put conditions on a resource's tools. The register stores grants; this reads them for Cedar.
 */
import type { Kysely } from 'kysely';
import { AdminError } from '../errors/index.js';
import type { AuditPort } from '../audit/index.js';
import type { Database } from '../storage/index.js';
import { resourceFromRow } from './entities.js';
import type { PolicyPort, ToolLister, ToolSchemaPort } from './ports.js';

/** A tool's input schema larger than this (as JSON) is not recorded: its arguments cannot be put to the grants. */
const MAX_TOOL_SCHEMA_CHARS = 64 * 1024;

export type ToolRef = { resourceId: string; tool: string };

export interface GrantPoliciesDeps {
  db: Kysely<Database>;
  policy: PolicyPort;
  /**
   * The candidate set observe mode evaluates: the enforced grants and the observed ones together, loaded only while
   * some grant is observed (otherwise nothing is evaluated twice).
   */
  observed?: PolicyPort | undefined;
  audit: AuditPort;
}

export class GrantPolicies {
  readonly #db: Kysely<Database>;
  readonly #policy: PolicyPort;
  readonly #observed: PolicyPort | undefined;
  readonly #audit: AuditPort;
  #observing = false;
  #listTools: ToolLister | undefined;

  constructor(deps: GrantPoliciesDeps) {
    this.#db = deps.db;
    this.#policy = deps.policy;
    this.#observed = deps.observed;
    this.#audit = deps.audit;
  }

  /** See Register.useToolLister. */
  useToolLister(list: ToolLister): void {
    this.#listTools = list;
  }

  /** True while some enabled grant is observed: only then is the candidate set evaluated beside the enforced one. */
  get observing(): boolean {
    return this.#observing;
  }

  /**
   * Validates a grant's policy for storing: with the schemas it needs (`fresh`: to record with it) and the tools it
   * names (`named`: the resources its transaction must hold). Invalid is ERR_ADMIN_POLICY_INVALID.
   */
  async check(id: string, policy: string): Promise<{ policyCount: number; fresh: ToolSchemaPort[]; named: ToolRef[] }> {
    const { all, fresh, named } = await this.#schemasFor(policy);
    const result = await this.#policy.validate(policy, all);
    if (!result.ok) throw invalid(id, result.errors);
    return { policyCount: result.policyCount, fresh, named };
  }

  /** What creating the grant would say of its policy, storing and recording nothing (`POST /grants/validate`). */
  async validate(policy: string): Promise<{ ok: true; policyCount: number } | { ok: false; errors: string[] }> {
    try {
      const { all } = await this.#schemasFor(policy);
      return await this.#policy.validate(policy, all);
    } catch (err) {
      if (err instanceof AdminError && err.code === 'ERR_ADMIN_POLICY_INVALID')
        return { ok: false, errors: err.details.length > 0 ? err.details : [err.message] };
      throw err;
    }
  }

  /**
   * Which of `grants` put conditions on the arguments of `resourceId`'s tools. Each grant is asked of Cedar once per
   * checker, so asking again with a longer list (inside a transaction) asks only of the grants not seen before.
   */
  namingTools(resourceId: string): (grants: ReadonlyArray<{ id: string; policy: string }>) => Promise<string[]> {
    const checked = new Map<string, boolean>();
    return async (grants) => {
      for (const g of grants)
        if (!checked.has(g.id))
          checked.set(
            g.id,
            (await this.#policy.toolActions(g.policy)).some((t) => t.resourceId === resourceId),
          );
      return grants.filter((g) => checked.get(g.id) === true).map((g) => g.id);
    };
  }

  /**
   * Loads every enabled, enforced grant into the policy engine, and — while some grant is observed — the enforced and
   * observed grants together into the candidate set; returns the enforced set's new version.
   */
  async reload(): Promise<number> {
    const rows = await this.#db.selectFrom('grants').select(['id', 'policy', 'mode']).where('enabled', '=', 1).orderBy('id').execute();
    const tools = await this.#recorded();
    const version = await this.#policy.load(
      rows.filter((r) => r.mode === 'enforce').map((r) => ({ id: r.id, text: r.policy })),
      tools,
    );
    if (this.#observed !== undefined) {
      const observing = rows.some((r) => r.mode === 'observe');
      // A candidate set that fails to load observes nothing (and says so); the enforced set, loaded above, decides.
      this.#observing = false;
      try {
        await this.#observed.load(observing ? rows.map((r) => ({ id: r.id, text: r.policy })) : [], tools);
        this.#observing = observing;
      } catch (err) {
        this.#audit.record({
          type: 'admin.change',
          actor_chain: ['system:observe-mode'],
          decision: 'deny',
          reason: 'grant.observe_failed',
          detail: (err as Error).message.slice(0, 500),
        });
      }
    }
    return version;
  }

  /**
   * The input schemas a grant is validated with: every recorded one, overridden by what the upstreams list now for
   * the tools the grant names (`fresh`, recorded if the grant is stored). An upstream that cannot be listed leaves
   * its recorded schemas in place; a named tool with neither is refused by validation.
   */
  async #schemasFor(policy: string): Promise<{ all: ToolSchemaPort[]; fresh: ToolSchemaPort[]; named: ToolRef[] }> {
    const recorded = await this.#recorded();
    const named = await this.#policy.toolActions(policy);
    if (named.length === 0) return { all: recorded, fresh: [], named };
    const fresh: ToolSchemaPort[] = [];
    const problems: string[] = [];
    for (const resourceId of new Set(named.map((t) => t.resourceId))) {
      const row = await this.#db.selectFrom('resources').selectAll().where('id', '=', resourceId).executeTakeFirst();
      if (row === undefined || row.kind !== 'mcp') {
        problems.push(notMcp(resourceId));
        continue;
      }
      if (this.#listTools === undefined) continue;
      try {
        const listed = await this.#listTools(resourceFromRow(row));
        for (const t of named)
          if (t.resourceId === resourceId) {
            const schema = listed.find((l) => l.name === t.tool)?.inputSchema;
            if (schema !== undefined && JSON.stringify(schema).length <= MAX_TOOL_SCHEMA_CHARS)
              fresh.push({ resourceId, tool: t.tool, inputSchema: schema });
          }
      } catch (err) {
        // Recorded schemas stand in; a tool with none is refused below, with this as the reason.
        if (!recorded.some((r) => r.resourceId === resourceId))
          problems.push(`tool arguments: the tools of ${resourceId} could not be listed: ${(err as Error).message.slice(0, 200)}`);
      }
    }
    if (problems.length > 0)
      throw new AdminError('ERR_ADMIN_POLICY_INVALID', 'grant names tools whose input schemas are unknown', problems);
    const replaced = (r: ToolSchemaPort): boolean => fresh.some((f) => f.resourceId === r.resourceId && f.tool === r.tool);
    return { all: [...recorded.filter((r) => !replaced(r)), ...fresh], fresh, named };
  }

  async #recorded(): Promise<ToolSchemaPort[]> {
    const rows = await this.#db.selectFrom('tool_schemas').select(['resource_id', 'tool', 'input_schema']).execute();
    return rows.map((r) => ({ resourceId: r.resource_id, tool: r.tool, inputSchema: JSON.parse(r.input_schema) as unknown }));
  }
}

/** A grant's policy refused by validation, with Cedar's (or Writ's) reasons. */
export function invalid(id: string, errors: string[]): AdminError {
  return new AdminError('ERR_ADMIN_POLICY_INVALID', `grant ${id}: policy does not validate against the Writ schema`, errors);
}

export function notMcp(resourceId: string): string {
  return `tool arguments: ${JSON.stringify(resourceId)} is not a registered MCP resource`;
}
