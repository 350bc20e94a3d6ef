/**
 * The key that signs Security Event Tokens: RS256 with a 2048-bit modulus (the CAEP interoperability profile's
 * MUST), generated once, the private half sealed under the KEK like the token-signing keys, the public half published
 * in Writ's JWKS. It is deliberately not a token-signing key: `SigningKeys` never loads it, so the gateway and every
 * per-call check refuse an access token that names it.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import { SET_KID_PREFIX } from '@writ/protocol';
import { openEnvelope, sealEnvelope, type KeyEncryptionKey } from '../crypto/index.js';
import type { Database } from '../storage/index.js';
import { SET_TYP } from './ssf-vocabulary.js';

const PURPOSE = 'set';

export class SetSigningKey {
  readonly kid: string;
  readonly publicJwk: JWK;
  readonly #privateKey: KeyObject;
  readonly #encodedHeader: string;

  private constructor(kid: string, publicJwk: JWK, privateKey: KeyObject) {
    this.kid = kid;
    this.publicJwk = publicJwk;
    this.#privateKey = privateKey;
    this.#encodedHeader = Buffer.from(JSON.stringify({ alg: 'RS256', typ: SET_TYP, kid })).toString('base64url');
  }

  /**
   * The stored key, or a new one when there is none. Nodes starting together race on one unique row; the loser's key
   * is discarded and everyone loads the winner's.
   *
   * @example
   * const key = await SetSigningKey.load({ db, kek });
   * const set = key.sign({ iss, iat, jti, aud, sub_id, events });
   */
  static async load(deps: { db: Kysely<Database>; kek: KeyEncryptionKey; now?: () => number }): Promise<SetSigningKey> {
    let row = await deps.db.selectFrom('ssf_keys').selectAll().where('purpose', '=', PURPOSE).executeTakeFirst();
    if (row === undefined) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwk = publicKey.export({ format: 'jwk' }) as JWK;
      const kid = `${SET_KID_PREFIX}${await calculateJwkThumbprint(jwk)}`;
      const privateJwk = privateKey.export({ format: 'jwk' });
      await deps.db
        .insertInto('ssf_keys')
        .values({
          kid,
          purpose: PURPOSE,
          public_jwk: JSON.stringify({ kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' }),
          private_envelope: sealEnvelope(deps.kek, Buffer.from(JSON.stringify(privateJwk)), `ssf-key:${kid}`),
          created_at: (deps.now ?? Date.now)(),
        })
        .onConflict((oc) => oc.column('purpose').doNothing())
        .execute();
      row = await deps.db.selectFrom('ssf_keys').selectAll().where('purpose', '=', PURPOSE).executeTakeFirstOrThrow();
    }
    const privateJwk = JSON.parse(openEnvelope(deps.kek, row.private_envelope, `ssf-key:${row.kid}`).toString('utf8')) as JsonWebKey;
    const publicJwk = JSON.parse(row.public_jwk) as JWK;
    // A stored key is checked against its own public half, so a swapped row cannot sign under another kid.
    const privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' });
    if (createPublicKey(privateKey).export({ format: 'jwk' }).n !== publicJwk.n)
      throw new Error('SET signing key does not match its public key');
    return new SetSigningKey(row.kid, publicJwk, privateKey);
  }

  /** A compact JWS (RFC 7515) with header `{alg: RS256, typ: secevent+jwt, kid}`. */
  sign(claims: Record<string, unknown>): string {
    const input = `${this.#encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${sign('sha256', Buffer.from(input), this.#privateKey).toString('base64url')}`;
  }
}
