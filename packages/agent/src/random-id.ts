/**
 * Unguessable identifiers for `jti` claims (RFC 9449 §4.2 asks for at least 96 bits of randomness; RFC 7523 §3
 * needs a jti the server can remember to refuse replays). WebCrypto rather than node:crypto keeps the SDK portable.
 */
import { base64url } from 'jose';

/** 128 random bits, base64url. */
export function randomId(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
}
