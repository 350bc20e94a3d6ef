/**
 * RFC 9449 §4.2 DPoP proof JWT: header `typ: dpop+jwt`, `alg`, `jwk` (public key only); claims `jti`, `htm`, `htu`
 * (without query and fragment), `iat`, plus `ath` (§4.2, base64url SHA-256 of the access token) when one is presented
 * and `nonce` (§8, §9) when the server supplied one.
 */
import { base64url, SignJWT } from 'jose';
import type { DpopKey } from './dpop-key.js';
import { htuOf, normalizeMethod } from './http-target.js';
import { randomId } from './random-id.js';

export interface DpopProofInput {
  /** The request method, as sent. */
  htm: string;
  /** The request URL; query and fragment are removed here. */
  htu: string | URL;
  /** The access token the request presents; adds `ath`. */
  accessToken?: string;
  /** The server's latest `DPoP-Nonce`. */
  nonce?: string;
}

/** RFC 9449 §4.2 `ath`: base64url(SHA-256(ASCII(access token))). */
export async function accessTokenHash(accessToken: string): Promise<string> {
  // Access tokens are ASCII (RFC 6750 b64token), so the UTF-8 encoding is the ASCII encoding the RFC names.
  return base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))));
}

/**
 * @example
 * const proof = await createDpopProof(key, { htm: 'GET', htu: 'https://writ.example/r/api/v1/projects', accessToken });
 */
export async function createDpopProof(key: DpopKey, input: DpopProofInput): Promise<string> {
  const ath = input.accessToken !== undefined ? await accessTokenHash(input.accessToken) : undefined;
  return signDpopProof(key, {
    htm: input.htm,
    htu: input.htu,
    ...(ath !== undefined ? { ath } : {}),
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
  });
}

/** The proof for a token whose `ath` is already known (a fetch presents one token many times). Internal. */
export function signDpopProof(key: DpopKey, input: { htm: string; htu: string | URL; ath?: string; nonce?: string }): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: randomId(),
    htm: normalizeMethod(input.htm),
    htu: htuOf(input.htu),
    iat: Math.floor(Date.now() / 1000),
  };
  if (input.ath !== undefined) payload['ath'] = input.ath;
  if (input.nonce !== undefined) payload['nonce'] = input.nonce;
  return new SignJWT(payload).setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: { ...key.publicJwk } }).sign(key.privateKey);
}
