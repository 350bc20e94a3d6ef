/** RFC 9449 §4.2: the agent's DPoP key pair. The private key never leaves the agent; `jkt` (RFC 7638) is what tokens bind to. */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export type DpopAlg = 'ES256' | 'EdDSA';

export interface DpopKey {
  alg: DpopAlg;
  privateKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

/**
 * @example
 * const key = await generateDpopKey(); // ES256
 * key.jkt // the thumbprint Writ puts in the token's cnf.jkt
 */
export async function generateDpopKey(alg: DpopAlg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: false, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = await exportJWK(publicKey);
  const publicJwk: JWK = {
    kty: jwk.kty as string,
    ...(jwk.crv !== undefined ? { crv: jwk.crv } : {}),
    ...(jwk.x !== undefined ? { x: jwk.x } : {}),
    ...(jwk.y !== undefined ? { y: jwk.y } : {}),
  };
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}
