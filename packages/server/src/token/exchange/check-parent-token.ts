/**
 * The parent's side of a delegation: its task token (`subject_token`) and the DPoP proof that the caller holds the
 * token's key go through the very check the gateway runs on every call (@writ/verify `checkCall`: signature, type,
 * issuer, time, claim shapes, `htm`/`htu`/`ath`, replay, key binding, every revocation of the token, its task, each
 * ancestor task, each agent of the chain, the user and the key). Then the store must agree with the token: the task
 * and every ancestor still active, the chain and the actors the very ones recorded when each task was created — a
 * token whose `act` or `task_chain` disagrees with the record is refused even if its signature is good.
 */
import { actorsOf, WritError, type TaskTokenClaims } from '@writ/protocol';
import { checkCall, type CheckCallContext, type DpopNonces } from '@writ/verify/internal';
import type { Kysely } from 'kysely';
import { OAuthError } from '../../errors/index.js';
import type { Database } from '../../storage/index.js';

export interface ParentCheckDeps {
  db: Kysely<Database>;
  tokenEndpoint: string;
  check: Omit<CheckCallContext, 'audience'>;
  nonces?: DpopNonces;
  now: () => number;
}

export interface VerifiedParent {
  claims: TaskTokenClaims;
  /** The agents of the chain, oldest first (the current actor last). */
  agents: string[];
}

export async function checkParentToken(subjectToken: string, dpop: readonly string[], deps: ParentCheckDeps): Promise<VerifiedParent> {
  let claims: TaskTokenClaims;
  try {
    ({ claims } = await checkCall(
      { method: 'POST', url: deps.tokenEndpoint, authorization: [`DPoP ${subjectToken}`], dpop },
      { ...deps.check, audience: null },
    ));
  } catch (err) {
    if (!(err instanceof WritError)) throw err;
    throw oauthErrorFor(err, deps.nonces);
  }
  const agents = actorsOf(claims.act);
  if (agents.length !== claims.task_chain.length + 1 || agents[agents.length - 1] !== claims.client_id) {
    throw invalidSubject(`act chain of ${agents.length} does not fit task_chain of ${claims.task_chain.length} and client_id`);
  }
  const ids = [...claims.task_chain, claims.task_id];
  const rows = await deps.db
    .selectFrom('tasks')
    .select(['id', 'parent_id', 'chain', 'agent_id', 'user_id', 'status', 'expires_at'])
    .where('id', 'in', ids)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const nowMs = deps.now();
  for (const [i, id] of ids.entries()) {
    const row = byId.get(id);
    if (row === undefined) throw invalidSubject(`task ${id} unknown`);
    if (row.status !== 'active' || row.expires_at <= nowMs)
      throw invalidSubject(`task ${id} is ${row.status === 'active' ? 'expired' : row.status}`);
    // Each task of the chain was created for the same user, by the agent at the same place in `act`, under its parent.
    if (row.user_id !== claims.sub) throw invalidSubject(`task ${id} belongs to another user`);
    if (row.agent_id !== agents[i]) throw invalidSubject(`task ${id} was issued to ${row.agent_id}, act says ${agents[i] ?? '-'}`);
    if (row.parent_id !== (i === 0 ? null : ids[i - 1])) throw invalidSubject(`task ${id} has another parent`);
    if (row.chain !== JSON.stringify(ids.slice(0, i))) throw invalidSubject(`task ${id} has another chain`);
  }
  return { claims, agents };
}

/** RFC 8693 §2.2.2: a subject token that is invalid or unacceptable is `invalid_request`. */
function invalidSubject(detail: string): OAuthError {
  return new OAuthError('invalid_request', 'subject_token is invalid', { detail });
}

function oauthErrorFor(err: WritError, nonces: DpopNonces | undefined): OAuthError {
  const detail = `${err.code}${err.detail !== undefined ? `: ${err.detail}` : ''}`;
  if (err.code === 'ERR_DPOP_NONCE' && nonces !== undefined) {
    return new OAuthError('use_dpop_nonce', 'Authorization server requires nonce in DPoP proof', {
      headers: { 'DPoP-Nonce': nonces.current() },
      detail,
    });
  }
  if (err.code === 'ERR_NOT_READY') return new OAuthError('temporarily_unavailable', 'try again shortly', { detail });
  // A proof that is missing, malformed or for another request is the proof's fault (RFC 9449 §5); a proof by a key
  // other than the token's, or a token that is itself unacceptable, is the subject token's.
  if (err.code.startsWith('ERR_DPOP_') && err.code !== 'ERR_DPOP_BINDING') {
    return new OAuthError('invalid_dpop_proof', err.code === 'ERR_DPOP_MISSING' ? 'a DPoP proof is required' : 'DPoP proof is invalid', {
      detail,
    });
  }
  return invalidSubject(detail);
}
