/**
 * The key that signs Security Event Tokens: RS256 with a 2048-bit modulus (the CAEP interoperability profile's
 * MUST), a dedicated key (dedicated-keys/): published in Writ's JWKS, never a token-signing key.
 */
import type { Kysely } from 'kysely';
import { SET_KID_PREFIX } from '@writ/protocol';
import type { KeyEncryptionKey, KeyRing } from '../crypto/index.js';
import { DedicatedKey, type DedicatedKeyPurpose } from '../dedicated-keys/index.js';
import type { Database } from '../storage/index.js';
import { SET_TYP } from './ssf-vocabulary.js';

export type SetSigningKey = DedicatedKey;

export const SET_KEY: DedicatedKeyPurpose = { purpose: 'set', alg: 'RS256', kidPrefix: SET_KID_PREFIX, typ: SET_TYP, sealedAs: 'ssf-key' };

export function loadSetSigningKey(deps: {
  db: Kysely<Database>;
  kek: KeyEncryptionKey | KeyRing;
  now?: () => number;
}): Promise<SetSigningKey> {
  return DedicatedKey.load(deps, SET_KEY);
}
