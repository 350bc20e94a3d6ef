/** Where task-token verification finds Writ's public keys: by `kid`. */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { NON_TOKEN_KID_PREFIXES } from '@writ/protocol';

export interface TokenKeys {
  get(kid: string): { alg: string; key: KeyObject } | undefined;
}

/**
 * Keys from a JWKS document (as served at Writ's `/.well-known/jwks.json`); each key must name its `kid` and `alg`.
 * The keys published beside the token keys (the Shared Signals SET key, the audit checkpoint key) are skipped: they
 * never sign a task token.
 */
export function tokenKeysFromJwks(jwks: { keys: ReadonlyArray<Record<string, unknown>> }): TokenKeys {
  const map = new Map<string, { alg: string; key: KeyObject }>();
  for (const jwk of jwks.keys) {
    const { kid, alg } = jwk;
    if (typeof kid !== 'string' || typeof alg !== 'string' || NON_TOKEN_KID_PREFIXES.some((p) => kid.startsWith(p))) continue;
    const members: Record<string, unknown> = {};
    for (const m of ['kty', 'crv', 'x', 'y', 'n', 'e']) if (jwk[m] !== undefined) members[m] = jwk[m];
    try {
      map.set(kid, { alg, key: createPublicKey({ key: members as JsonWebKey, format: 'jwk' }) });
    } catch {
      // A key we cannot read is a key we do not trust; tokens naming it fail as "unknown kid".
    }
  }
  return { get: (kid) => map.get(kid) };
}
