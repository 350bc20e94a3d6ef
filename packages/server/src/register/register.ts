/**
 * The register: Writ's inventory of agents (the NHI register), trusted identity providers, resources and grants.
 * Every change is validated, stored, audited (`admin.change`) and announced, so hot-path caches follow at once.
 */
import { EventEmitter } from 'node:events';
import type { Kysely, Selectable } from 'kysely';
import { AdminError } from '../errors/index.js';
import { isUniqueViolation, type Database } from '../storage/index.js';
import {
  agentInput,
  agentStatusInput,
  grantInput,
  grantModeInput,
  identityProviderInput,
  parseInput,
  requireUsableKey,
  resourceInput,
  workloadIssuerInput,
  type AgentInput,
  type WorkloadIssuerInput,
  type GrantInput,
  type IdentityProviderInput,
  type ResourceInput,
} from './inputs.js';
import type { AuditPort } from '../audit/index.js';
import type { PolicyPort, ToolLister } from './ports.js';
import { GrantPolicies, invalid, notMcp } from './grant-policies.js';
import {
  agentFromRow,
  agentRow,
  clientAgentRow,
  grantRow,
  idpRow,
  resourceRow,
  workloadIssuerRow,
  grantFromRow,
  idpFromRow,
  resourceFromRow,
  workloadIssuerFromRow,
  type Agent,
  type ClientAgent,
  type Grant,
  type IdentityProvider,
  type RegisterChange,
  type Resource,
  type WorkloadIssuer,
} from './entities.js';

export interface RegisterDeps {
  db: Kysely<Database>;
  policy: PolicyPort;
  /**
   * The candidate set observe mode evaluates: the enforced grants and the observed ones together, loaded only while
   * some grant is observed (otherwise nothing is evaluated twice).
   */
  observed?: PolicyPort;
  audit: AuditPort;
  now?: () => number;
}

/** The register's tables whose objects are found and deleted by id alone. */
type RegisterTable = 'identity_providers' | 'workload_issuers' | 'resources' | 'grants';

export class Register {
  readonly #db: Kysely<Database>;
  readonly #grants: GrantPolicies;
  readonly #audit: AuditPort;
  readonly #now: () => number;
  readonly #events = new EventEmitter();
  #version = 0;

  constructor(deps: RegisterDeps) {
    this.#db = deps.db;
    this.#grants = new GrantPolicies(deps);
    this.#audit = deps.audit;
    this.#now = deps.now ?? Date.now;
  }

  /** Increases on every change; caches keyed by it can never serve stale register data. */
  get version(): number {
    return this.#version;
  }

  /**
   * Every change, made here (`local`) or announced by another node of the cluster (`remote`). Caches react to both;
   * only local changes are announced onwards.
   */
  onChange(listener: (change: RegisterChange, origin: 'local' | 'remote') => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  /**
   * A change another node made to the shared store: already durable and audited there, so here it only reloads what
   * depends on it (the policy set for grants) and tells this node's caches.
   */
  async applyRemoteChange(change: RegisterChange): Promise<void> {
    this.#version++;
    if (change.kind === 'grant') await this.reloadPolicies();
    this.#events.emit('change', change, 'remote');
  }

  /** After a gap in what this node heard (a lost database connection): reload everything derived from the store. */
  async resync(): Promise<void> {
    this.#version++;
    await this.reloadPolicies();
  }

  // ---- agents ---------------------------------------------------------------------------------------------

  async createAgent(input: AgentInput, actor: string): Promise<Agent> {
    const a = parseInput(agentInput, input);
    for (const key of a.jwks.keys) await requireUsableKey(key);
    for (const b of a.workload) await this.#requireWorkloadIssuer(b.issuer);
    const now = this.#now();
    await this.#insert(() => this.#db.insertInto('agents').values(agentRow(a, now)).execute(), `agent ${a.id} already exists`);
    this.#changed({ kind: 'agent', id: a.id }, actor, 'agent.created', {
      owner: a.owner,
      kind: a.kind,
      workload: a.workload,
      ...(a.expiresAt !== undefined ? { expires_at: a.expiresAt } : {}),
      ...(a.reviewBy !== undefined ? { review_by: a.reviewBy } : {}),
    });
    return this.getAgent(a.id);
  }

  /**
   * An agent for a stock OAuth client that registered itself (a metadata document or RFC 7591): no keys (it
   * authenticates by PKCE and, where it can, DPoP), an owner and a status the configuration decides. `alsoWrite` runs
   * in the same transaction, so the client record and its agent exist together or not at all.
   */
  async createClientAgent(a: ClientAgent, actor: string, alsoWrite: (trx: Kysely<Database>) => Promise<void>): Promise<Agent> {
    const now = this.#now();
    await this.#insert(
      () =>
        this.#db.transaction().execute(async (trx) => {
          await trx.insertInto('agents').values(clientAgentRow(a, now)).execute();
          await alsoWrite(trx);
        }),
      `agent ${a.id} already exists`,
    );
    this.#changed({ kind: 'agent', id: a.id }, actor, 'agent.created', { owner: a.owner, kind: 'oauth_client', status: a.status });
    return this.getAgent(a.id);
  }

  async getAgent(id: string): Promise<Agent> {
    const row = await this.#db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no agent ${id}`);
    return agentFromRow(row);
  }

  async findAgent(id: string): Promise<Agent | undefined> {
    const row = await this.#db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : agentFromRow(row);
  }

  async listAgents(): Promise<Agent[]> {
    const rows = await this.#db.selectFrom('agents').selectAll().orderBy('id').execute();
    return rows.map(agentFromRow);
  }

  async setAgentStatus(id: string, input: unknown, actor: string): Promise<Agent> {
    const s = parseInput(agentStatusInput, input);
    const res = await this.#db
      .updateTable('agents')
      .set({ status: s.status, updated_at: this.#now() })
      .where('id', '=', id)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no agent ${id}`);
    this.#changed({ kind: 'agent', id }, actor, 'agent.status', { status: s.status, reason: s.reason ?? '' });
    return this.getAgent(id);
  }

  // ---- identity providers ---------------------------------------------------------------------------------

  async createIdentityProvider(input: IdentityProviderInput, actor: string): Promise<IdentityProvider> {
    const p = parseInput(identityProviderInput, input);
    const now = this.#now();
    await this.#insert(
      () => this.#db.insertInto('identity_providers').values(idpRow(p, now)).execute(),
      `identity provider ${p.id} or issuer ${p.issuer} already exists`,
    );
    this.#changed({ kind: 'identity_provider', id: p.id }, actor, 'identity_provider.created', { issuer: p.issuer });
    return this.getIdentityProvider(p.id);
  }

  async getIdentityProvider(id: string): Promise<IdentityProvider> {
    return idpFromRow(await this.#getOne('identity_providers', id, 'identity provider'));
  }

  async listIdentityProviders(): Promise<IdentityProvider[]> {
    return (await this.#db.selectFrom('identity_providers').selectAll().orderBy('id').execute()).map(idpFromRow);
  }

  async deleteIdentityProvider(id: string, actor: string): Promise<void> {
    await this.#deleteOne('identity_providers', id, 'identity provider', { kind: 'identity_provider', id }, actor);
  }

  // ---- workload issuers ----------------------------------------------------------------------------------

  async createWorkloadIssuer(input: WorkloadIssuerInput, actor: string): Promise<WorkloadIssuer> {
    const p = parseInput(workloadIssuerInput, input);
    for (const key of p.jwks?.keys ?? []) await requireUsableKey(key);
    const now = this.#now();
    await this.#insert(
      () => this.#db.insertInto('workload_issuers').values(workloadIssuerRow(p, now)).execute(),
      `workload issuer ${p.id} or issuer ${p.issuer} already exists`,
    );
    this.#changed({ kind: 'workload_issuer', id: p.id }, actor, 'workload_issuer.created', { issuer: p.issuer, kind: p.kind });
    return this.getWorkloadIssuer(p.id);
  }

  async getWorkloadIssuer(id: string): Promise<WorkloadIssuer> {
    return workloadIssuerFromRow(await this.#getOne('workload_issuers', id, 'workload issuer'));
  }

  async listWorkloadIssuers(): Promise<WorkloadIssuer[]> {
    return (await this.#db.selectFrom('workload_issuers').selectAll().orderBy('id').execute()).map(workloadIssuerFromRow);
  }

  /** Agents bound to the issuer stop authenticating by it at once: bindings to a missing issuer match nothing. */
  async deleteWorkloadIssuer(id: string, actor: string): Promise<void> {
    await this.#deleteOne('workload_issuers', id, 'workload issuer', { kind: 'workload_issuer', id }, actor);
  }

  // ---- resources ------------------------------------------------------------------------------------------

  async createResource(input: ResourceInput, actor: string): Promise<Resource> {
    const r = parseInput(resourceInput, input);
    if (r.secretId !== undefined) await this.#requireSecret(r.secretId);
    const now = this.#now();
    await this.#insert(() => this.#db.insertInto('resources').values(resourceRow(r, now)).execute(), `resource ${r.id} already exists`);
    this.#changed({ kind: 'resource', id: r.id }, actor, 'resource.created', {
      kind: r.kind,
      baseUrl: r.baseUrl ?? null,
      upstreams: r.mcp?.upstreams.map((u) => ({ name: u.name, transport: u.transport })) ?? [],
      secretId: r.secretId ?? null,
      scopes: Object.keys(r.scopes ?? {}),
    });
    return this.getResource(r.id);
  }

  async getResource(id: string): Promise<Resource> {
    return resourceFromRow(await this.#getOne('resources', id, 'resource'));
  }

  async listResources(): Promise<Resource[]> {
    return (await this.#db.selectFrom('resources').selectAll().orderBy('id').execute()).map(resourceFromRow);
  }

  /**
   * A resource whose tools' arguments some grant puts conditions on cannot be deleted: its recorded input schemas are
   * what types those conditions, and a grant naming a tool with no schema would fail the whole policy set's load.
   * Deleted with it: its recorded schemas, so a resource registered again under the id is listed afresh.
   */
  async deleteResource(id: string, actor: string): Promise<void> {
    const naming = this.#grants.namingTools(id);
    const refuse = (grants: string[]): never => {
      throw new AdminError(
        'ERR_ADMIN_CONFLICT',
        `resource ${id} is named by the tool arguments of grant ${grants.join(', ')}; change or delete those first`,
      );
    };
    // Asked of Cedar before the transaction, so a long list of grants does not hold the store's writer meanwhile.
    const before = await naming(await this.#db.selectFrom('grants').select(['id', 'policy']).execute());
    if (before.length > 0) refuse(before);
    const schemas = await this.#db.transaction().execute(async (trx) => {
      const res = await trx.deleteFrom('resources').where('id', '=', id).executeTakeFirst();
      if (res.numDeletedRows === 0n) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no resource ${id}`);
      // A grant written since the check above: createGrant locks the resources it names in its own transaction, so
      // it either committed before this deletion (and is seen here) or fails on the missing resource.
      const since = await naming(await trx.selectFrom('grants').select(['id', 'policy']).execute());
      if (since.length > 0) refuse(since);
      return (await trx.deleteFrom('tool_schemas').where('resource_id', '=', id).executeTakeFirst()).numDeletedRows;
    });
    if (schemas > 0n) await this.reloadPolicies();
    this.#changed({ kind: 'resource', id }, actor, 'resource.deleted', {});
  }

  // ---- grants ---------------------------------------------------------------------------------------------

  /**
   * Where the input schemas of tools come from when a grant states conditions on their arguments. Set once the
   * upstream connections exist (they are built after the register, which they read).
   */
  useToolLister(list: ToolLister): void {
    this.#grants.useToolLister(list);
  }

  /**
   * A grant is stored only after Cedar has parsed it and validated it against the Writ schema — with, for each tool
   * whose arguments it puts conditions on, the input schema the upstream lists now. Those schemas are recorded with
   * the grant, so every node types the tool's arguments as the grant was validated.
   */
  async createGrant(input: GrantInput, actor: string): Promise<Grant> {
    const g = parseInput(grantInput, input);
    const { policyCount, fresh, named } = await this.#grants.check(g.id, g.policy);
    const now = this.#now();
    await this.#insert(
      () =>
        this.#db.transaction().execute(async (trx) => {
          await trx.insertInto('grants').values(grantRow(g, now)).execute();
          // Locks the rows of the resources whose tools the grant names (a no-op update), so a concurrent
          // deleteResource either finishes first, and this fails, or waits and then sees this grant.
          for (const resourceId of new Set(named.map((t) => t.resourceId))) {
            const held = await trx
              .updateTable('resources')
              .set((eb) => ({ updated_at: eb.ref('updated_at') }))
              .where('id', '=', resourceId)
              .where('kind', '=', 'mcp')
              .executeTakeFirst();
            if (held.numUpdatedRows === 0n) throw invalid(g.id, [notMcp(resourceId)]);
          }
          for (const t of fresh)
            await trx
              .insertInto('tool_schemas')
              .values({ resource_id: t.resourceId, tool: t.tool, input_schema: JSON.stringify(t.inputSchema), recorded_at: now })
              .onConflict((oc) =>
                oc.columns(['resource_id', 'tool']).doUpdateSet({ input_schema: JSON.stringify(t.inputSchema), recorded_at: now }),
              )
              .execute();
        }),
      `grant ${g.id} already exists`,
    );
    await this.reloadPolicies();
    this.#changed({ kind: 'grant', id: g.id }, actor, 'grant.created', {
      policyCount,
      enabled: g.enabled,
      mode: g.mode,
      ...(fresh.length > 0 ? { toolSchemas: fresh.map((t) => `${t.resourceId}/${t.tool}`) } : {}),
    });
    return this.getGrant(g.id);
  }

  /** What creating the grant would say of its policy, storing and recording nothing (`POST /grants/validate`). */
  validateGrant(policy: string): Promise<{ ok: true; policyCount: number } | { ok: false; errors: string[] }> {
    return this.#grants.validate(policy);
  }

  async getGrant(id: string): Promise<Grant> {
    return grantFromRow(await this.#getOne('grants', id, 'grant'));
  }

  async listGrants(): Promise<Grant[]> {
    return (await this.#db.selectFrom('grants').selectAll().orderBy('id').execute()).map(grantFromRow);
  }

  /** Moves a grant between `observe` and `enforce` (promoting an observed grant, or taking one back to observe). */
  async setGrantMode(id: string, input: unknown, actor: string): Promise<Grant> {
    const { mode } = parseInput(grantModeInput, input);
    const res = await this.#db.updateTable('grants').set({ mode, updated_at: this.#now() }).where('id', '=', id).executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no grant ${id}`);
    await this.reloadPolicies();
    this.#changed({ kind: 'grant', id }, actor, 'grant.mode', { mode });
    return this.getGrant(id);
  }

  /** True while some enabled grant is observed: only then is the candidate set evaluated beside the enforced one. */
  get observing(): boolean {
    return this.#grants.observing;
  }

  async deleteGrant(id: string, actor: string): Promise<void> {
    await this.#deleteOne('grants', id, 'grant', { kind: 'grant', id }, actor, () => this.reloadPolicies());
  }

  /** One registered object's row by id; none with that id is ERR_ADMIN_NOT_FOUND. */
  async #getOne<T extends RegisterTable>(table: T, id: string, noun: string): Promise<Selectable<Database[T]>> {
    // Widened to the union so Kysely types the `id` column once for every table that may be asked.
    const from: RegisterTable = table;
    const row = (await this.#db.selectFrom(from).selectAll().where('id', '=', id).executeTakeFirst()) as
      Selectable<Database[T]> | undefined;
    if (row === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no ${noun} ${id}`);
    return row;
  }

  /**
   * Deletes one registered object by id (none with that id is ERR_ADMIN_NOT_FOUND, and nothing changed), lets
   * `after` bring derived state in line, then audits and announces the change.
   */
  async #deleteOne(
    table: RegisterTable,
    id: string,
    noun: string,
    change: RegisterChange,
    actor: string,
    after?: () => Promise<unknown>,
  ): Promise<void> {
    const res = await this.#db.deleteFrom(table).where('id', '=', id).executeTakeFirst();
    if (res.numDeletedRows === 0n) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no ${noun} ${id}`);
    await after?.();
    this.#changed(change, actor, `${change.kind}.deleted`, {});
  }

  /** Loads the grants into the policy engine (and observe mode's candidate set); returns the enforced set's version. */
  reloadPolicies(): Promise<number> {
    return this.#grants.reload();
  }

  /** An agent's lifecycle changed (agent-lifecycle.ts): audited and announced like every register change. */
  noteAgentChange(id: string, actor: string, what: string, data: Record<string, unknown>): void {
    this.#changed({ kind: 'agent', id }, actor, what, data);
  }

  /** Secrets live in the vault; the register records and announces the change so injection caches refresh. */
  noteSecretChange(id: string, actor: string, version: number): void {
    this.#changed({ kind: 'secret', id }, actor, 'secret.version', { version });
  }

  /**
   * A person's connected account at the upstream of secret `id` was made or revoked: audited, and announced as a
   * change of the secret, so every node drops what it minted from it before the change is answered.
   */
  noteConnectionChange(id: string, userId: string, what: 'connection.created' | 'connection.revoked', actor = `user:${userId}`): void {
    this.#changed({ kind: 'secret', id }, actor, what, { user: userId });
  }

  // ---- internals ------------------------------------------------------------------------------------------

  async #requireWorkloadIssuer(id: string): Promise<void> {
    const row = await this.#db.selectFrom('workload_issuers').select('id').where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no workload issuer ${id}`);
  }

  async #requireSecret(id: string): Promise<void> {
    const row = await this.#db.selectFrom('secrets').select('id').where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no secret ${id}`);
  }

  async #insert(run: () => Promise<unknown>, conflictMessage: string): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AdminError('ERR_ADMIN_CONFLICT', conflictMessage);
      throw err;
    }
  }

  #changed(change: RegisterChange, actor: string, what: string, data: Record<string, unknown>): void {
    this.#version++;
    this.#audit.record({
      type: 'admin.change',
      actor_chain: [actor],
      decision: 'allow',
      reason: what,
      data: { [change.kind]: change.id, ...data },
      ...(change.kind === 'agent' ? { agent_id: change.id } : {}),
    });
    this.#events.emit('change', change, 'local');
  }
}
