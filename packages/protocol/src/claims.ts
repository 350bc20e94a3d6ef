/**
 * The task token: an RFC 9068 JWT access token (`typ: at+jwt`) with RFC 8693 `act`, RFC 9396
 * `authorization_details`, RFC 9449 `cnf.jkt`, and Writ's task claims.
 */
import type { TaskAuthorizationDetail } from './authorization-details.js';

/** RFC 8693 §4.1: the current actor is the outermost `act`; prior actors nest inside. */
export interface ActorClaim {
  sub: string;
  act?: ActorClaim;
}

/**
 * The agents of a delegation chain, oldest first (the root task's agent … the current actor): RFC 8693 §4.1 nests
 * prior actors inside the current one. The one walker of `act`, for revocation, audit and delegation checks.
 *
 * @example
 * actorsOf({ sub: 'researcher', act: { sub: 'planner' } }) // ['planner', 'researcher']
 */
export function actorsOf(act: ActorClaim | undefined): string[] {
  const out: string[] = [];
  for (let a = act; a !== undefined; a = a.act) out.unshift(a.sub);
  return out;
}

export interface TaskTokenClaims {
  iss: string;
  /** Writ user id: `<identity provider id>:<subject at that provider>`. */
  sub: string;
  aud: string;
  /** The acting agent (RFC 9068 §2.2, RFC 8693 §4.3). */
  client_id: string;
  act: ActorClaim;
  /** What the task may do, and (`writ_budget`) how much. */
  authorization_details: TaskAuthorizationDetail[];
  /**
   * RFC 9449 §6.1: the DPoP key the token is bound to. Absent only on a bearer task token, which Writ issues just
   * for MCP resources whose operator lets standard clients without DPoP in (short-lived, every use marked in the
   * audit); such a token is refused wherever bearer tokens are not explicitly accepted.
   */
  cnf?: { jkt: string };
  jti: string;
  iat: number;
  nbf?: number;
  exp: number;
  scope?: string;
  /** Writ extension: the task's stated purpose, so call-time grants see what issuance-time grants saw. */
  purpose?: string;
  /**
   * The user's email from the token the task was started with (RFC 9068 §2.2.2 identity claim), so call-time grants
   * see the user entity issuance-time grants saw (`context.user.email`). Absent when the user's token had none.
   */
  email?: string;
  /** Writ extension: the task this token was issued for. */
  task_id: string;
  /** Writ extension: ancestor task ids, root first, so any enforcement point can check the chain's revocation. */
  task_chain: string[];
}

/** RFC 9449 §4.2 DPoP proof payload. */
export interface DpopProofClaims {
  jti: string;
  htm: string;
  htu: string;
  iat: number;
  ath?: string;
  nonce?: string;
}
