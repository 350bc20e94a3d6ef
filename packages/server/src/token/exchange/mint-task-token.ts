/**
 * Creates the task and signs its token (RFC 9068 `at+jwt`): `sub` the user, `client_id` and `act.sub` the agent,
 * `aud` the resource, `cnf.jkt` the DPoP key, the granted `authorization_details`, the task id and its chain, and the
 * user's claims that grants read (`email`, RFC 9068 §2.2.2), so call-time grants see the user issuance saw.
 * `exp` never passes the task's end; a child task's never passes its parent's (the caller bounds the lifetime).
 */
import type { Insertable, Kysely } from 'kysely';
import type { ActorClaim, TaskAuthorizationDetail, TaskTokenClaims } from '@writ/protocol';
import { randomId } from '../../ids/index.js';
import { USER_ENTITY_CLAIMS, type UserEntityClaims } from '../../policy/index.js';
import { dialectOf, type ClientAssertionsTable, type Database, type TasksTable, type TokensTable } from '../../storage/index.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { assertionSpendRow, type AssertionSpend } from './verify-agent-assertion.js';

export interface MintInput {
  issuer: string;
  userId: string;
  /** The claims the user was verified with (the user's token, or the parent task token): USER_ENTITY_CLAIMS travel on. */
  userClaims: UserEntityClaims;
  agentId: string;
  resourceId: string;
  resourceUri: string;
  /** The DPoP key the token is bound to; null for a bearer token (MCP resources that allow them only). */
  jkt: string | null;
  purpose: string;
  authorizationDetails: TaskAuthorizationDetail[];
  lifetimeSeconds: number;
  /**
   * When the task ends, epoch ms, if later than this first token's expiry: a task a person consented to lives for the
   * consented duration, and its short-lived tokens are renewed by refresh (signTokenForTask). Default: with the token.
   */
  taskExpiresAt?: number;
  parentTaskId?: string;
  parentChain?: string[];
  /** The whole actor chain, current actor outermost (RFC 8693 §4.1); default: the agent alone. */
  act?: ActorClaim;
  /** Granted scope names (RFC 8693 §4.2), when scopes were requested. */
  scope?: string;
  /**
   * The client assertion's `jti`, spent in the same transaction as the task and token rows: if another request spent
   * it first, nothing is written and the insert's primary-key error is thrown (isAlreadySpent).
   */
  spend?: AssertionSpend;
}

export async function mintTaskToken(
  input: MintInput,
  deps: { db: Kysely<Database>; keys: SigningKeys; now: () => number },
): Promise<{ token: string; claims: TaskTokenClaims }> {
  const now = deps.now();
  const taskId = randomId('task');
  const chain = input.parentTaskId !== undefined ? [...(input.parentChain ?? []), input.parentTaskId] : [];
  const { token, claims } = await signTaskToken(input, { taskId, chain, now }, deps.keys);
  const task = taskRow({
    id: taskId,
    parentId: input.parentTaskId ?? null,
    chain,
    userId: input.userId,
    agentId: input.agentId,
    resourceId: input.resourceId,
    purpose: input.purpose,
    authorizationDetails: input.authorizationDetails,
    createdAt: now,
    expiresAt: Math.max(claims.exp * 1000, input.taskExpiresAt ?? 0),
  });
  const spend = input.spend !== undefined ? assertionSpendRow(input.spend) : undefined;
  await insertIssuance(deps.db, { spend, task, token: tokenRow(claims, input, now) });
  return { token, claims };
}

/**
 * A task a person consented to, before any token of it exists: the authorization code stands for it until redeemed
 * (signTokenForTask signs its tokens). Returns the task id.
 */
export async function createTask(
  input: {
    userId: string;
    agentId: string;
    resourceId: string;
    purpose: string;
    authorizationDetails: TaskAuthorizationDetail[];
    expiresAt: number;
  },
  deps: { db: Kysely<Database>; now: () => number },
): Promise<string> {
  const id = randomId('task');
  await deps.db
    .insertInto('tasks')
    .values(taskRow({ ...input, id, parentId: null, chain: [], createdAt: deps.now() }))
    .execute();
  return id;
}

/** An existing task, as the token service reads it back to issue it another token (a refresh). */
export interface ExistingTask {
  id: string;
  chain: string[];
  userId: string;
  agentId: string;
  resourceId: string;
  resourceUri: string;
  purpose: string;
  authorizationDetails: TaskAuthorizationDetail[];
  /** Epoch ms; the token never outlives it. */
  expiresAt: number;
}

/**
 * Another token of a task that exists: the same task id, chain, user, agent, audience and details; a new `jti`. Signed
 * here; its row is the caller's to write, with whatever must commit with it (a refresh token's rotation).
 */
export async function signTokenForTask(
  input: { issuer: string; task: ExistingTask; userClaims: UserEntityClaims; jkt: string | null; lifetimeSeconds: number },
  deps: { keys: SigningKeys; now: () => number },
): Promise<{ token: string; claims: TaskTokenClaims; row: Insertable<TokensTable> }> {
  const now = deps.now();
  const t = input.task;
  const lifetime = Math.min(input.lifetimeSeconds, Math.floor(t.expiresAt / 1000) - Math.floor(now / 1000));
  if (lifetime <= 0) throw new Error('the task has ended');
  const mint: MintInput = {
    issuer: input.issuer,
    userId: t.userId,
    userClaims: input.userClaims,
    agentId: t.agentId,
    resourceId: t.resourceId,
    resourceUri: t.resourceUri,
    jkt: input.jkt,
    purpose: t.purpose,
    authorizationDetails: t.authorizationDetails,
    lifetimeSeconds: lifetime,
  };
  const { token, claims } = await signTaskToken(mint, { taskId: t.id, chain: t.chain, now }, deps.keys);
  return { token, claims, row: tokenRow(claims, mint, now) };
}

async function signTaskToken(
  input: MintInput,
  task: { taskId: string; chain: string[]; now: number },
  keys: SigningKeys,
): Promise<{ token: string; claims: TaskTokenClaims }> {
  const iat = Math.floor(task.now / 1000);
  const claims: TaskTokenClaims = {
    iss: input.issuer,
    sub: input.userId,
    aud: input.resourceUri,
    client_id: input.agentId,
    act: input.act ?? { sub: input.agentId },
    authorization_details: input.authorizationDetails,
    ...(input.jkt !== null ? { cnf: { jkt: input.jkt } } : {}),
    jti: randomId('tok'),
    iat,
    exp: iat + input.lifetimeSeconds,
    ...(input.scope !== undefined && input.scope !== '' ? { scope: input.scope } : {}),
    ...(input.purpose !== '' ? { purpose: input.purpose } : {}),
    ...userEntityClaims(input.userClaims),
    task_id: task.taskId,
    task_chain: task.chain,
  };
  return { token: await keys.sign(claims), claims };
}

/**
 * The rows of one issuance, written together or not at all. On PostgreSQL one statement (the inserts as data-modifying
 * CTEs, atomic as any statement is) takes one round trip where a transaction takes five; SQLite runs in this process,
 * where a transaction costs no round trips. A `jti` spent already fails either way on its primary key, and nothing is
 * written.
 */
async function insertIssuance(
  db: Kysely<Database>,
  rows: { spend: Insertable<ClientAssertionsTable> | undefined; task: Insertable<TasksTable>; token: Insertable<TokensTable> },
): Promise<void> {
  const { spend, task, token } = rows;
  if (dialectOf(db) === 'postgres') {
    const withTask = db.with('task', (d) => d.insertInto('tasks').values(task).returning('id'));
    if (spend === undefined) await withTask.insertInto('tokens').values(token).execute();
    else
      await withTask
        .with('spend', (d) => d.insertInto('client_assertions').values(spend).returning('key'))
        .insertInto('tokens')
        .values(token)
        .execute();
    return;
  }
  await db.transaction().execute(async (trx) => {
    if (spend !== undefined) await trx.insertInto('client_assertions').values(spend).execute();
    await trx.insertInto('tasks').values(task).execute();
    await trx.insertInto('tokens').values(token).execute();
  });
}

/** A new task's row: an existing task's fields (but its audience) and where it stands in its chain. */
function taskRow(t: Omit<ExistingTask, 'resourceUri'> & { parentId: string | null; createdAt: number }): Insertable<TasksTable> {
  return {
    id: t.id,
    parent_id: t.parentId,
    chain: JSON.stringify(t.chain),
    user_id: t.userId,
    agent_id: t.agentId,
    resource_id: t.resourceId,
    purpose: t.purpose,
    authorization_details: JSON.stringify(t.authorizationDetails),
    status: 'active',
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    ended_at: null,
    end_reason: null,
  };
}

function tokenRow(claims: TaskTokenClaims, input: MintInput, now: number): Insertable<TokensTable> {
  return {
    jti: claims.jti,
    task_id: claims.task_id,
    agent_id: input.agentId,
    user_id: input.userId,
    jkt: input.jkt ?? '',
    audience: input.resourceUri,
    issued_at: now,
    expires_at: claims.exp * 1000,
  };
}

/** The user's claims Cedar sees, copied so that a call's user entity is the one issuance decided on. */
function userEntityClaims(claims: UserEntityClaims): Partial<Pick<TaskTokenClaims, (typeof USER_ENTITY_CLAIMS)[number]>> {
  const out: Partial<Pick<TaskTokenClaims, (typeof USER_ENTITY_CLAIMS)[number]>> = {};
  for (const name of USER_ENTITY_CLAIMS) {
    const v = (claims as Readonly<Record<string, unknown>>)[name];
    if (typeof v === 'string' && v !== '') out[name] = v;
  }
  return out;
}
