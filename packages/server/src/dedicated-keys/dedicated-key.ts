/**
 * A key that signs one kind of document that is not a token — Security Event Tokens, audit checkpoints — generated
 * once per database, the private half sealed under the KEK like the token-signing keys, the public half published in
 * Writ's JWKS. None of them is a token-signing key: `SigningKeys` never loads one, their key ids carry a prefix that
 * every verifier of task tokens skips (`NON_TOKEN_KID_PREFIXES`), so the gateway and every per-call check refuse an
 * access token that names one.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import { openEnvelope, sealEnvelope, type KeyEncryptionKey, type KeyRing, type SealedColumn } from '../crypto/index.js';
import type { Database } from '../storage/index.js';

export interface DedicatedKeyPurpose {
  /** One key per purpose per database (a unique row). */
  purpose: string;
  alg: 'RS256' | 'ES256';
  /** Prefix of the key id: one of `NON_TOKEN_KID_PREFIXES`. */
  kidPrefix: string;
  /** The JWS `typ` of every document the key signs. */
  typ: string;
  /** Names the sealed private key (envelope associated data), so a row moved to another purpose does not open. */
  sealedAs: string;
}

/**
 * Where dedicated keys' private halves are sealed (for `writ vault rotate-kek`): each purpose seals under its own
 * record name, so the purposes in use are given.
 */
export function dedicatedKeyEnvelopes(purposes: readonly DedicatedKeyPurpose[]): SealedColumn {
  const sealedAs = new Map(purposes.map((p) => [p.purpose, p.sealedAs]));
  return {
    name: 'dedicated signing keys',
    table: 'dedicated_keys',
    key: ['kid'],
    column: 'private_envelope',
    aad: (row) => {
      const as = sealedAs.get(String(row['purpose']));
      if (as === undefined) throw new TypeError(`dedicated key ${String(row['kid'])} has a purpose no module registered`);
      return `${as}:${String(row['kid'])}`;
    },
  };
}

export class DedicatedKey {
  readonly kid: string;
  readonly publicJwk: JWK;
  readonly #privateKey: KeyObject;
  readonly #encodedHeader: string;
  readonly #alg: DedicatedKeyPurpose['alg'];

  private constructor(p: DedicatedKeyPurpose, kid: string, publicJwk: JWK, privateKey: KeyObject) {
    this.kid = kid;
    this.publicJwk = publicJwk;
    this.#privateKey = privateKey;
    this.#alg = p.alg;
    this.#encodedHeader = Buffer.from(JSON.stringify({ alg: p.alg, typ: p.typ, kid })).toString('base64url');
  }

  /**
   * The stored key of this purpose, or a new one when there is none. Nodes starting together race on one unique row;
   * the loser's key is discarded and everyone loads the winner's.
   *
   * @example
   * const key = await DedicatedKey.load({ db, kek }, { purpose: 'set', alg: 'RS256', kidPrefix: 'set-', typ: 'secevent+jwt', sealedAs: 'ssf-key' });
   * const set = key.sign({ iss, iat, jti, aud, sub_id, events });
   */
  static async load(
    deps: { db: Kysely<Database>; kek: KeyEncryptionKey | KeyRing; now?: () => number },
    p: DedicatedKeyPurpose,
  ): Promise<DedicatedKey> {
    const find = () => deps.db.selectFrom('dedicated_keys').selectAll().where('purpose', '=', p.purpose).executeTakeFirst();
    let row = await find();
    if (row === undefined) {
      const { privateKey, publicKey } =
        p.alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' }) as JWK;
      const kid = `${p.kidPrefix}${await calculateJwkThumbprint(jwk)}`;
      const members = p.alg === 'RS256' ? { kty: jwk.kty, n: jwk.n, e: jwk.e } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
      await deps.db
        .insertInto('dedicated_keys')
        .values({
          kid,
          purpose: p.purpose,
          public_jwk: JSON.stringify({ ...members, kid, alg: p.alg, use: 'sig' }),
          private_envelope: sealEnvelope(
            deps.kek,
            Buffer.from(JSON.stringify(privateKey.export({ format: 'jwk' }))),
            `${p.sealedAs}:${kid}`,
          ),
          created_at: (deps.now ?? Date.now)(),
        })
        .onConflict((oc) => oc.column('purpose').doNothing())
        .execute();
      row = await find();
      if (row === undefined) throw new Error(`the ${p.purpose} key was neither created nor found`);
    }
    const privateJwk = JSON.parse(openEnvelope(deps.kek, row.private_envelope, `${p.sealedAs}:${row.kid}`).toString('utf8')) as JsonWebKey;
    const publicJwk = JSON.parse(row.public_jwk) as JWK;
    // A stored key is checked against its own public half, so a swapped row cannot sign under another kid.
    const privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' });
    const derived = createPublicKey(privateKey).export({ format: 'jwk' });
    if (publicJwk.alg !== p.alg || (p.alg === 'RS256' ? derived.n !== publicJwk.n : derived.x !== publicJwk.x || derived.y !== publicJwk.y))
      throw new Error(`the ${p.purpose} key does not match its public key`);
    return new DedicatedKey(p, row.kid, publicJwk, privateKey);
  }

  /** A compact JWS (RFC 7515) with header `{alg, typ, kid}` of this purpose. */
  sign(claims: Record<string, unknown>): string {
    const input = `${this.#encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature =
      this.#alg === 'RS256'
        ? sign('sha256', Buffer.from(input), this.#privateKey)
        : sign('sha256', Buffer.from(input), { key: this.#privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }
}
