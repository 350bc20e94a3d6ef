/**
 * Creates the task and signs its token (RFC 9068 `at+jwt`): `sub` the user, `client_id` and `act.sub` the agent,
 * `aud` the resource, `cnf.jkt` the DPoP key, the granted `authorization_details`, the task id and its chain, and the
 * user's claims that grants read (`email`, RFC 9068 §2.2.2), so call-time grants see the user issuance saw.
 * `exp` never passes the task's end; a child task's never passes its parent's (the caller bounds the lifetime).
 */
import type { Kysely } from 'kysely';
import type { ActorClaim, AuthorizationDetail, TaskTokenClaims } from '@writ/protocol';
import { randomId } from '../../ids/index.js';
import { USER_ENTITY_CLAIMS, type UserEntityClaims } from '../../policy/index.js';
import type { Database } from '../../storage/index.js';
import type { SigningKeys } from '../keys/signing-keys.js';
import { insertAssertionSpend, type AssertionSpend } from './verify-agent-assertion.js';

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
  authorizationDetails: AuthorizationDetail[];
  lifetimeSeconds: number;
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
  const iat = Math.floor(now / 1000);
  const exp = iat + input.lifetimeSeconds;
  const taskId = randomId('task');
  const jti = randomId('tok');
  const chain = input.parentTaskId !== undefined ? [...(input.parentChain ?? []), input.parentTaskId] : [];
  const claims: TaskTokenClaims = {
    iss: input.issuer,
    sub: input.userId,
    aud: input.resourceUri,
    client_id: input.agentId,
    act: input.act ?? { sub: input.agentId },
    authorization_details: input.authorizationDetails,
    ...(input.jkt !== null ? { cnf: { jkt: input.jkt } } : {}),
    jti,
    iat,
    exp,
    ...(input.scope !== undefined && input.scope !== '' ? { scope: input.scope } : {}),
    ...(input.purpose !== '' ? { purpose: input.purpose } : {}),
    ...userEntityClaims(input.userClaims),
    task_id: taskId,
    task_chain: chain,
  };
  const token = await deps.keys.sign(claims);
  await deps.db.transaction().execute(async (trx) => {
    if (input.spend !== undefined) await insertAssertionSpend(trx, input.spend);
    await trx
      .insertInto('tasks')
      .values({
        id: taskId,
        parent_id: input.parentTaskId ?? null,
        chain: JSON.stringify(chain),
        user_id: input.userId,
        agent_id: input.agentId,
        resource_id: input.resourceId,
        purpose: input.purpose,
        authorization_details: JSON.stringify(input.authorizationDetails),
        status: 'active',
        created_at: now,
        expires_at: exp * 1000,
        ended_at: null,
        end_reason: null,
      })
      .execute();
    await trx
      .insertInto('tokens')
      .values({
        jti,
        task_id: taskId,
        agent_id: input.agentId,
        user_id: input.userId,
        jkt: input.jkt ?? '',
        audience: input.resourceUri,
        issued_at: now,
        expires_at: exp * 1000,
      })
      .execute();
  });
  return { token, claims };
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
