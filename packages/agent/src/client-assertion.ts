/**
 * RFC 7523 §2.2 and §3 (with RFC 7521 §4.2): the `private_key_jwt` client assertion an agent authenticates with at
 * the token endpoint. iss = sub = the client id, aud = the token endpoint URL, a fresh jti the server can refuse to
 * see twice, iat, and an exp no more than 60 seconds ahead: a captured assertion is worth very little.
 */
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';
import { randomId } from './random-id.js';
import { signingAlgFor } from './signing-alg.js';

/** The longest lifetime this SDK will put on an assertion. */
const MAX_LIFETIME_SECONDS = 60;

export interface ClientAssertionInput {
  /** The agent id Writ registered: both `iss` and `sub`. */
  clientId: string;
  /** The token endpoint URL (`aud`). */
  audience: string;
  /** The private key whose public half is in the agent's registered JWKS. */
  key: CryptoKey | KeyObject;
  /** Which registered key signed, when the agent has more than one. */
  kid?: string;
  /** Defaults to the algorithm the key implies (ES256 for P-256, EdDSA for Ed25519, RS256 for RSA). */
  alg?: string;
  /** Seconds until `exp`: 1 to 60, default 60. */
  lifetimeSeconds?: number;
}

/**
 * @example
 * const assertion = await createClientAssertion({ clientId: 'agent-a', audience: 'https://writ.example/oauth2/token', key });
 */
export async function createClientAssertion(input: ClientAssertionInput): Promise<string> {
  const lifetime = input.lifetimeSeconds ?? MAX_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_LIFETIME_SECONDS) {
    throw new RangeError(`lifetimeSeconds must be an integer from 1 to ${MAX_LIFETIME_SECONDS}`);
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: input.alg ?? signingAlgFor(input.key), typ: 'JWT', ...(input.kid !== undefined ? { kid: input.kid } : {}) })
    .setIssuer(input.clientId)
    .setSubject(input.clientId)
    .setAudience(input.audience)
    .setJti(randomId())
    .setIssuedAt(now)
    .setExpirationTime(now + lifetime)
    .sign(input.key);
}
