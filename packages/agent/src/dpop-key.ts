/**
 * RFC 9449 §4.2 (the `jwk` a proof carries) and RFC 7638 (the thumbprint a token's `cnf.jkt` binds to): the agent's
 * DPoP key pair. The private key is generated non-extractable, so not even the agent's own code can export it.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** The DPoP proof algorithms this SDK generates keys for. */
export type DpopKeyAlg = 'ES256' | 'EdDSA';

export interface DpopKey {
  readonly alg: DpopKeyAlg;
  /** Non-extractable: it signs proofs and never leaves the process. */
  readonly privateKey: CryptoKey;
  /** The public members only (kty, crv, x, y): what every proof's `jwk` header carries. */
  readonly publicJwk: Readonly<JWK>;
  /** RFC 7638 SHA-256 thumbprint of `publicJwk`: the value Writ puts in the task token's `cnf.jkt`. */
  readonly jkt: string;
}

/**
 * @example
 * const key = await generateDpopKey();        // ES256 (P-256)
 * const ed = await generateDpopKey('EdDSA');  // Ed25519
 */
export async function generateDpopKey(alg: DpopKeyAlg = 'ES256'): Promise<DpopKey> {
  // A JavaScript caller can pass anything; an RSA or HMAC "DPoP key" must not come out of here.
  if (alg !== 'ES256' && alg !== 'EdDSA') throw new TypeError(`unsupported DPoP key algorithm: ${String(alg)}`);
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: false, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const exported = await exportJWK(publicKey);
  // Copy only the key's public members: nothing else (ext, key_ops, alg) belongs in the header or the thumbprint.
  const publicJwk: JWK = Object.freeze({
    kty: exported.kty as string,
    ...(exported.crv !== undefined ? { crv: exported.crv } : {}),
    ...(exported.x !== undefined ? { x: exported.x } : {}),
    ...(exported.y !== undefined ? { y: exported.y } : {}),
  });
  return Object.freeze({ alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') });
}
