/**
 * What a sub-agent hands its parent so the parent can delegate to it (RFC 8693 §2.1 `actor_token`): a JWT signed
 * with a key of the sub-agent's registered JWKS — iss = sub = its agent id, aud = Writ's token endpoint, a fresh
 * single-use jti, at most 60 seconds of life — whose `cnf.jkt` (RFC 7800 §3.1, RFC 9449 §6.1) names the DPoP key the
 * child task token will be bound to. The parent never holds that key: only the sub-agent can use what it is given.
 */
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';
import type { DpopKey } from './dpop-key.js';
import { randomId } from './random-id.js';
import { signingAlgFor } from './signing-alg.js';

export interface ActorAssertionInput {
  /** The sub-agent's registered id. */
  agentId: string;
  /** Writ's token endpoint URL (`aud`). */
  audience: string;
  /** The sub-agent's registered private key. */
  key: CryptoKey | KeyObject;
  kid?: string;
  alg?: string;
  /** The sub-agent's DPoP key: the child token will be bound to its thumbprint. */
  dpopKey: Pick<DpopKey, 'jkt'>;
  /** Seconds until `exp`: 1 to 60, default 60. */
  lifetimeSeconds?: number;
}

const MAX_LIFETIME_SECONDS = 60;

/**
 * @example
 * // in the sub-agent
 * const actorToken = await createActorAssertion({ agentId: 'summarizer', audience: `${issuer}/oauth2/token`, key, dpopKey });
 * // hand actorToken to the parent, which calls task.delegate({ actorToken, ... })
 */
export async function createActorAssertion(input: ActorAssertionInput): Promise<string> {
  const lifetime = input.lifetimeSeconds ?? MAX_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_LIFETIME_SECONDS) {
    throw new RangeError(`lifetimeSeconds must be an integer from 1 to ${MAX_LIFETIME_SECONDS}`);
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ cnf: { jkt: input.dpopKey.jkt } })
    .setProtectedHeader({ alg: input.alg ?? signingAlgFor(input.key), typ: 'JWT', ...(input.kid !== undefined ? { kid: input.kid } : {}) })
    .setIssuer(input.agentId)
    .setSubject(input.agentId)
    .setAudience(input.audience)
    .setJti(randomId())
    .setIssuedAt(now)
    .setExpirationTime(now + lifetime)
    .sign(input.key);
}
