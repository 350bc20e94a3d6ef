/**
 * RFC 7638 JWK SHA-256 thumbprint: SHA-256 over the JSON of the required members only, in lexicographic order, no
 * whitespace, base64url-encoded. It is the `jkt` that binds a task token to a DPoP key (RFC 9449 §6).
 */
import { createHash } from 'node:crypto';

export interface PublicJwk {
  kty: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  [member: string]: unknown;
}

/** Required members per key type (RFC 7638 §3.2), already in lexicographic order. */
const REQUIRED: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

export function jwkThumbprint(jwk: PublicJwk): string {
  const members = REQUIRED[jwk.kty];
  if (members === undefined) throw new TypeError(`unsupported kty ${String(jwk.kty)}`);
  const parts: string[] = [];
  for (const m of members) {
    const v = jwk[m];
    if (typeof v !== 'string' || v === '') throw new TypeError(`JWK member ${m} missing`);
    parts.push(`${JSON.stringify(m)}:${JSON.stringify(v)}`);
  }
  return createHash('sha256')
    .update(`{${parts.join(',')}}`)
    .digest('base64url');
}
