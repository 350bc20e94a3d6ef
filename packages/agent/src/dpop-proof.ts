/** RFC 9449 §4.2 DPoP proof: typ `dpop+jwt`, the public `jwk`, a fresh `jti`, `htm`, `htu` (no query, no fragment), `iat`, and `ath`/`nonce` when needed. */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { DpopKey } from './dpop-key.js';

export interface DpopProofInput {
  htm: string;
  htu: string;
  accessToken?: string;
  nonce?: string;
}

/**
 * @example
 * const proof = await createDpopProof(key, { htm: 'GET', htu: 'http://127.0.0.1:7420/r/demo-api/v1/projects', accessToken });
 */
export async function createDpopProof(key: DpopKey, input: DpopProofInput): Promise<string> {
  const url = new URL(input.htu);
  url.search = '';
  url.hash = '';
  const payload: Record<string, unknown> = {
    jti: randomBytes(18).toString('base64url'),
    htm: input.htm.toUpperCase(),
    htu: url.toString(),
    iat: Math.floor(Date.now() / 1000),
  };
  if (input.accessToken !== undefined) payload['ath'] = createHash('sha256').update(input.accessToken, 'ascii').digest('base64url');
  if (input.nonce !== undefined) payload['nonce'] = input.nonce;
  return new SignJWT(payload).setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk }).sign(key.privateKey);
}
