/**
 * The bearer secrets the authorization server hands out — session cookies, authorization codes, refresh tokens,
 * login `state` — are 256 random bits, and only their SHA-256 digest is stored: a copy of the database redeems none
 * of them. PKCE S256 (RFC 7636 §4.2) is computed here too.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function newBearerSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function digestOf(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** An S256 challenge: base64url of 32 bytes, no padding. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isPkceChallenge(value: string): boolean {
  return CHALLENGE.test(value);
}

/** Whether `verifier` is well formed and its S256 transform equals `challenge` (compared in constant time). */
export function pkceVerifies(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier) || !CHALLENGE.test(challenge)) return false;
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/** RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(code_verifier))) — what Writ sends when it is the client. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Two strings compared without the time depending on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
