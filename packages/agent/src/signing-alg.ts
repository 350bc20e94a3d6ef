/**
 * RFC 7518 §3.1: the JWS `alg` that matches an asymmetric private key, so that callers of `private_key_jwt` need not
 * repeat what the key already says (and cannot get it wrong: an Ed25519 key signed "as ES256" fails at jose).
 */
import type { CryptoKey, KeyObject } from 'jose';

const EC_CURVES: Record<string, string> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

/** The JWS alg for `key`; RSA keys get RS256 (PKCS#1 v1.5) or PS256 (RSA-PSS) unless the caller says otherwise. */
export function signingAlgFor(key: CryptoKey | KeyObject): string {
  if ('algorithm' in key) {
    // WebCrypto CryptoKey
    const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
    const bits = algorithm.hash?.name.replace('SHA-', '') ?? '256';
    switch (algorithm.name) {
      case 'ECDSA':
        return curveAlg(algorithm.namedCurve);
      case 'Ed25519':
        return 'EdDSA';
      case 'RSASSA-PKCS1-v1_5':
        return `RS${bits}`;
      case 'RSA-PSS':
        return `PS${bits}`;
    }
    throw new TypeError(`cannot sign a client assertion with a ${algorithm.name} key`);
  }
  // node:crypto KeyObject (jose types it as just `{ type }`, to stay runtime-neutral)
  const keyObject = key as { type: string; asymmetricKeyType?: string; asymmetricKeyDetails?: { namedCurve?: string } };
  switch (keyObject.asymmetricKeyType) {
    case 'ec':
      return curveAlg(keyObject.asymmetricKeyDetails?.namedCurve);
    case 'ed25519':
      return 'EdDSA';
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
  }
  throw new TypeError(`cannot sign a client assertion with a ${keyObject.asymmetricKeyType ?? keyObject.type} key`);
}

function curveAlg(curve: string | undefined): string {
  const alg = curve !== undefined ? EC_CURVES[curve] : undefined;
  if (alg === undefined) throw new TypeError(`unsupported EC curve: ${String(curve)}`);
  return alg;
}
