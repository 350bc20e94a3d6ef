/** RFC 7523 §2.2/§3 client authentication JWT (`private_key_jwt`): iss = sub = the agent id, aud = the token endpoint, a unique jti, a short exp. */
import { randomBytes } from 'node:crypto';
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';

export interface ClientAssertionInput {
  clientId: string;
  audience: string;
  key: CryptoKey | KeyObject;
  kid?: string;
  alg?: string;
  /** Seconds until expiry; Writ refuses more than 300. */
  lifetimeSeconds?: number;
}

export async function createClientAssertion(input: ClientAssertionInput): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: input.alg ?? 'ES256', typ: 'JWT', ...(input.kid !== undefined ? { kid: input.kid } : {}) })
    .setIssuer(input.clientId)
    .setSubject(input.clientId)
    .setAudience(input.audience)
    .setJti(randomBytes(18).toString('base64url'))
    .setIssuedAt(now)
    .setExpirationTime(now + (input.lifetimeSeconds ?? 60))
    .sign(input.key);
}
