/**
 * The token endpoint's grants for stock clients, beside the token exchange:
 * - `authorization_code` (OAuth 2.1 §4.1.3): the code is single use — a second redemption ends the task it stood for
 *   and every refresh token of it; PKCE S256 is checked; `redirect_uri` and the client must be the authorize
 *   request's; a `resource` sent again must be the same;
 * - `refresh_token` (RFC 6749 §6): rotated on every use; a used one presented again revokes its whole family and
 *   ends the task; refused at once when the task, the client, the user or the key has been revoked, whatever the
 *   revocation's time (the check uses the family's start, not now);
 * - `urn:ietf:params:oauth:grant-type:jwt-bearer` with an ID-JAG (id-jag-grant.ts).
 * Access tokens are task tokens: DPoP-bound when the client proves a key (RFC 9449; `dpop_jkt` at authorize binds
 * the code to it), bearer only at a resource that accepts bearer tokens, short-lived, never past the task's end.
 */
import type { Kysely } from 'kysely';
import type { TaskAuthorizationDetail, TaskTokenClaims } from '@writ/protocol';
import type { RevocationSet } from '@writ/verify/internal';
import { OAuthError } from '../errors/index.js';
import type { AuditPort } from '../audit/index.js';
import { resourceUri, type Resource } from '../register/index.js';
import type { Database, OAuthRefreshTokenRow } from '../storage/index.js';
import type { TaskService } from '../tasks/index.js';
import {
  signTokenForTask,
  tokenEndpointProofKey,
  type Asker,
  type ExistingTask,
  type SigningKeys,
  type TokenServiceDeps,
} from '../token/index.js';
import { digestOf, newBearerSecret, pkceVerifies } from './bearer-secrets.js';
import { rotateRefreshToken, writeGrantRows, type GrantRows } from './grant-rows.js';
import { ClientProblem, type ClientRegistry, type OAuthClient } from './clients.js';
import type { AuthorizationSettings } from './settings.js';

export interface GrantContext {
  dpop: string[];
  traceId: string;
  source: string;
}

export interface StockTokenResponse {
  access_token: string;
  token_type: 'DPoP' | 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope?: string;
  authorization_details: TaskAuthorizationDetail[];
  task_id: string;
}

export type ProofDeps = Pick<
  TokenServiceDeps,
  'tokenEndpoint' | 'replay' | 'dpopAlgs' | 'proofMaxAgeSeconds' | 'clockSkewSeconds' | 'now' | 'nonces'
>;

export interface TokenGrantDeps {
  db: Kysely<Database>;
  issuer: string;
  keys: SigningKeys;
  settings: Pick<AuthorizationSettings, 'accessTokenLifetimeSeconds'>;
  maxLifetimeSeconds: number;
  clients: ClientRegistry;
  findResource(id: string): Promise<Resource | undefined>;
  revocations: RevocationSet;
  tasks: Pick<TaskService, 'end'>;
  proof: ProofDeps;
  audit: AuditPort;
  now: () => number;
}

/** What the audit record of a refusal can say about who asked (the token exchange's shape). */
export type GrantAsker = Asker;

export class TokenGrants {
  readonly #d: TokenGrantDeps;

  constructor(deps: TokenGrantDeps) {
    this.#d = deps;
  }

  async authorizationCode(form: URLSearchParams, ctx: GrantContext, asker: GrantAsker): Promise<StockTokenResponse> {
    const d = this.#d;
    const p = single(form, ['code', 'redirect_uri', 'code_verifier', 'client_id']);
    if (form.has('client_assertion') || form.has('client_secret')) {
      throw new OAuthError('invalid_client', 'client authentication failed', { detail: 'public clients authenticate with none' });
    }
    if (p.code === undefined) throw new OAuthError('invalid_request', 'code is required');
    if (p.client_id === undefined) throw new OAuthError('invalid_request', 'client_id is required');
    const client = await this.#client(p.client_id);
    asker.agentId = client.agent.id;
    const row = await d.db.selectFrom('oauth_codes').selectAll().where('code_hash', '=', digestOf(p.code)).executeTakeFirst();
    if (row === undefined) throw new OAuthError('invalid_grant', 'the authorization code is invalid', { detail: 'unknown code' });
    asker.userId = row.user_id;
    asker.taskId = row.task_id;
    if (row.client_id !== client.clientId) {
      throw new OAuthError('invalid_grant', 'the authorization code is invalid', { detail: `code issued to ${row.client_id}` });
    }
    // Taken before anything else is checked: whatever follows, this code is never accepted again.
    const now = d.now();
    const taken = await d.db
      .updateTable('oauth_codes')
      .set({ used_at: now })
      .where('code_hash', '=', row.code_hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (taken.numUpdatedRows === 0n) {
      // RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: a code used twice revokes what it was used for.
      await this.#endTask(row.task_id, 'authorization code replayed', ctx);
      throw new OAuthError('invalid_grant', 'the authorization code is invalid', { detail: 'code replayed: its task is revoked' });
    }
    if (row.expires_at <= now) throw new OAuthError('invalid_grant', 'the authorization code is invalid', { detail: 'code expired' });
    if (p.redirect_uri !== row.redirect_uri) {
      throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request', { detail: String(p.redirect_uri) });
    }
    if (p.code_verifier === undefined) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
    if (!pkceVerifies(p.code_verifier, row.code_challenge)) throw new OAuthError('invalid_grant', 'PKCE verification failed');
    this.#sameResource(form, row.resource_uri);
    const task = await this.#task(row.task_id);
    const resource = await this.#resource(task);
    const jkt = await this.#proofKey(ctx, resource, row.dpop_jkt);
    // Revocations made since the person consented reach the code too (its tokens would be issued after them).
    const hit = d.revocations.check(claimsSince(task, row.created_at, row.expires_at, jkt), jkt ?? '');
    if (hit !== null) {
      await this.#endTask(row.task_id, `revoked before the code was redeemed: ${hit}`, ctx);
      throw new OAuthError('invalid_grant', 'the authorization code is invalid', { detail: `revoked: ${hit}` });
    }
    this.#issuable(client);
    const issued = await this.#sign(task, resource, client, jkt, JSON.parse(row.user_claims) as Record<string, string>, {
      id: newBearerSecret(),
      createdAt: now,
    });
    await writeGrantRows(d.db, issued.rows);
    return this.#issued(issued, task, resource, client, jkt, ctx, 'authorization_code');
  }

  async refresh(form: URLSearchParams, ctx: GrantContext, asker: GrantAsker): Promise<StockTokenResponse> {
    const d = this.#d;
    const p = single(form, ['refresh_token', 'client_id', 'scope']);
    if (p.refresh_token === undefined) throw new OAuthError('invalid_request', 'refresh_token is required');
    if (p.client_id === undefined) throw new OAuthError('invalid_request', 'client_id is required');
    const client = await this.#client(p.client_id);
    asker.agentId = client.agent.id;
    const row = await d.db
      .selectFrom('oauth_refresh_tokens')
      .selectAll()
      .where('token_hash', '=', digestOf(p.refresh_token))
      .executeTakeFirst();
    if (row === undefined) throw new OAuthError('invalid_grant', 'the refresh token is invalid', { detail: 'unknown refresh token' });
    asker.taskId = row.task_id;
    if (row.client_id !== client.clientId)
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', { detail: 'issued to another client' });
    if (row.used_at !== null || row.revoked_at !== null) {
      await this.#reused(row, ctx);
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        detail: 'refresh token reused: its family and task are revoked',
      });
    }
    const now = d.now();
    if (row.expires_at <= now) throw new OAuthError('invalid_grant', 'the refresh token is invalid', { detail: 'refresh token expired' });
    const task = await this.#task(row.task_id);
    asker.userId = task.userId;
    const resource = await this.#resource(task);
    this.#sameResource(form, task.resourceUri);
    // A thief without the key cannot even spend the token: the proof is checked before it is used up.
    const jkt =
      row.jkt !== null ? await this.#proofKey(ctx, resource, row.jkt) : await this.#proofKey({ ...ctx, dpop: [] }, resource, null);
    const hit = d.revocations.check(claimsSince(task, row.family_created_at, row.expires_at, row.jkt), jkt ?? '');
    if (hit !== null) {
      await d.db.updateTable('oauth_refresh_tokens').set({ revoked_at: now }).where('family_id', '=', row.family_id).execute();
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', { detail: `revoked: ${hit}` });
    }
    this.#issuable(client);
    // The old token is used up exactly when its successor exists (one commit, and a failure in between leaves the old
    // one spendable rather than the family without a live token).
    const issued = await this.#sign(task, resource, client, jkt, JSON.parse(row.user_claims) as Record<string, string>, {
      id: row.family_id,
      createdAt: row.family_created_at,
    });
    if (!(await rotateRefreshToken(d.db, row.token_hash, now, issued.rows))) {
      await this.#reused(row, ctx);
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        detail: 'refresh token reused: its family and task are revoked',
      });
    }
    return this.#issued(issued, task, resource, client, jkt, ctx, 'refresh_token');
  }

  #issuable(client: OAuthClient): void {
    if (client.agent.status !== 'active') {
      throw new OAuthError('invalid_grant', 'the grant is invalid', { detail: `agent ${client.agent.id} is ${client.agent.status}` });
    }
  }

  /** The access token and its refresh token, signed and made; their rows are the caller's to write. */
  async #sign(
    task: ExistingTask,
    resource: Resource,
    client: OAuthClient,
    jkt: string | null,
    userClaims: Record<string, string>,
    family: { id: string; createdAt: number },
  ): Promise<{ token: string; claims: TaskTokenClaims; refresh: string; rows: GrantRows }> {
    const d = this.#d;
    const lifetime = Math.min(
      d.settings.accessTokenLifetimeSeconds,
      d.maxLifetimeSeconds,
      jkt === null ? (resource.mcp?.bearer.maxLifetimeSeconds ?? 0) : Infinity,
    );
    const signed = await signTokenForTask(
      { issuer: d.issuer, task, userClaims, jkt, lifetimeSeconds: lifetime },
      { keys: d.keys, now: d.now },
    ).catch((err: unknown) => {
      if ((err as Error).message === 'the task has ended')
        throw new OAuthError('invalid_grant', 'the grant is invalid', { detail: 'task ended' });
      throw err;
    });
    const refresh = newBearerSecret();
    const refreshRow = {
      token_hash: digestOf(refresh),
      family_id: family.id,
      task_id: task.id,
      client_id: client.clientId,
      jkt,
      user_claims: JSON.stringify(userClaims),
      family_created_at: family.createdAt,
      created_at: d.now(),
      expires_at: task.expiresAt,
      used_at: null,
      revoked_at: null,
    };
    return { token: signed.token, claims: signed.claims, refresh, rows: { token: signed.row, refresh: refreshRow } };
  }

  /** Audited once committed, and answered. */
  #issued(
    issued: { token: string; claims: TaskTokenClaims; refresh: string },
    task: ExistingTask,
    resource: Resource,
    client: OAuthClient,
    jkt: string | null,
    ctx: GrantContext,
    grant: 'authorization_code' | 'refresh_token',
  ): StockTokenResponse {
    const { claims } = issued;
    this.#d.audit.record({
      type: 'token.issued',
      trace_id: ctx.traceId,
      task_id: task.id,
      agent_id: client.agent.id,
      user_id: task.userId,
      actor_chain: [task.userId, client.agent.id],
      resource: resource.id,
      decision: 'allow',
      reason: 'granted',
      data: {
        grant_type: grant,
        client_id: client.clientId,
        jti: claims.jti,
        jkt,
        ...(jkt === null ? { bearer: true } : {}),
        granted: task.authorizationDetails,
        exp: claims.exp,
      },
    });
    return {
      access_token: issued.token,
      token_type: jkt === null ? 'Bearer' : 'DPoP',
      expires_in: claims.exp - claims.iat,
      refresh_token: issued.refresh,
      authorization_details: task.authorizationDetails,
      task_id: task.id,
    };
  }

  /** The key the token is bound to, or null for a bearer token where the resource accepts them. */
  async #proofKey(ctx: GrantContext, resource: Resource, bound: string | null): Promise<string | null> {
    if (ctx.dpop.length === 0) {
      if (bound !== null)
        throw new OAuthError('invalid_dpop_proof', 'a DPoP proof is required', { detail: 'the grant is bound to a DPoP key' });
      if (resource.kind === 'mcp' && resource.mcp?.bearer.allowed === true) return null;
      throw new OAuthError('invalid_dpop_proof', 'a DPoP proof is required', {
        detail: `resource ${resource.id} accepts DPoP-bound tokens only`,
      });
    }
    const jkt = await tokenEndpointProofKey(ctx.dpop, this.#d.proof);
    if (bound !== null && jkt !== bound) {
      throw new OAuthError('invalid_dpop_proof', 'DPoP proof is invalid', { detail: 'the proof key is not the key the grant is bound to' });
    }
    return jkt;
  }

  async #client(clientId: string): Promise<OAuthClient> {
    try {
      return await this.#d.clients.resolve(clientId);
    } catch (err) {
      if (err instanceof ClientProblem) throw new OAuthError('invalid_client', 'client authentication failed', { detail: err.detail });
      throw err;
    }
  }

  async #task(id: string): Promise<ExistingTask> {
    const row = await this.#d.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined || row.status !== 'active' || row.expires_at <= this.#d.now()) {
      throw new OAuthError('invalid_grant', 'the grant is invalid', {
        detail: `task ${id} is ${row === undefined ? 'gone' : row.status === 'active' ? 'expired' : row.status}`,
      });
    }
    const resource = await this.#d.findResource(row.resource_id);
    if (resource === undefined)
      throw new OAuthError('invalid_grant', 'the grant is invalid', { detail: `resource ${row.resource_id} is gone` });
    return {
      id: row.id,
      chain: JSON.parse(row.chain) as string[],
      userId: row.user_id,
      agentId: row.agent_id,
      resourceId: row.resource_id,
      resourceUri: resourceUri(this.#d.issuer, resource),
      purpose: row.purpose,
      authorizationDetails: JSON.parse(row.authorization_details) as TaskAuthorizationDetail[],
      expiresAt: row.expires_at,
    };
  }

  async #resource(task: ExistingTask): Promise<Resource> {
    const r = await this.#d.findResource(task.resourceId);
    if (r === undefined) throw new OAuthError('invalid_grant', 'the grant is invalid', { detail: `resource ${task.resourceId} is gone` });
    return r;
  }

  /** RFC 8707 §2.2: a `resource` named again at the token endpoint must be the one authorized. */
  #sameResource(form: URLSearchParams, authorized: string): void {
    const named = form.getAll('resource');
    if (named.some((r) => r !== authorized)) {
      throw new OAuthError('invalid_target', 'resource differs from the authorized resource', { detail: named.join(' ') });
    }
  }

  async #reused(row: OAuthRefreshTokenRow, ctx: GrantContext): Promise<void> {
    await this.#d.db
      .updateTable('oauth_refresh_tokens')
      .set({ revoked_at: this.#d.now() })
      .where('family_id', '=', row.family_id)
      .where('revoked_at', 'is', null)
      .execute();
    await this.#endTask(row.task_id, 'refresh token reused', ctx);
  }

  async #endTask(taskId: string, reason: string, ctx: GrantContext): Promise<void> {
    await this.#d.db
      .updateTable('oauth_refresh_tokens')
      .set({ revoked_at: this.#d.now() })
      .where('task_id', '=', taskId)
      .where('revoked_at', 'is', null)
      .execute();
    await this.#d.tasks.end(taskId, { status: 'revoked', reason, actor: `token-endpoint:${ctx.source}` }).catch((err: unknown) => {
      // A task already gone is already ended; anything else must not be swallowed.
      if ((err as { code?: string }).code !== 'ERR_ADMIN_NOT_FOUND') throw err;
    });
  }
}

/**
 * The token claims a revocation is checked against when a grant is redeemed: issued when the grant began (consent,
 * or the refresh family's first token), so a revocation of the user, agent or key since then hits it.
 */
function claimsSince(task: ExistingTask, startedAt: number, expiresAt: number, jkt: string | null): TaskTokenClaims {
  return {
    iss: '',
    sub: task.userId,
    aud: task.resourceUri,
    client_id: task.agentId,
    act: { sub: task.agentId },
    authorization_details: [],
    ...(jkt !== null ? { cnf: { jkt } } : {}),
    jti: '',
    iat: Math.floor(startedAt / 1000),
    exp: Math.floor(expiresAt / 1000),
    task_id: task.id,
    task_chain: task.chain,
  };
}

/** RFC 6749 §3.2: the named parameters appear at most once (an empty value is absent). */
export function single<K extends string>(form: URLSearchParams, names: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const n of names) {
    const v = form.getAll(n);
    if (v.length > 1) throw new OAuthError('invalid_request', `parameter ${n} repeated`);
    if (v[0] !== undefined && v[0] !== '') out[n] = v[0];
  }
  return out;
}
