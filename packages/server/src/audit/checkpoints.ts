/**
 * Signed checkpoints of the audit chain. The chain alone cannot show that its tail was cut, or that forged events
 * were appended: anyone who can write the table can extend it. A checkpoint is the head (seq, hash) signed with a key
 * kept for this purpose only (published in Writ's JWKS with a `audit-` key id, never a token key). Kept outside the
 * database (exported, pushed to a sink), checkpoints turn truncation and rewritten history into a verification
 * failure for anyone holding them: the chain must still contain every checkpointed (seq, hash).
 */
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { Kysely } from 'kysely';
import { AUDIT_CHECKPOINT_KID_PREFIX } from '@writ/protocol';
import type { DedicatedKey, DedicatedKeyPurpose } from '../dedicated-keys/index.js';
import type { Database } from '../storage/index.js';

/** The JWS `typ` of a checkpoint: nothing that verifies tokens accepts it. */
export const CHECKPOINT_TYP = 'writ-audit-checkpoint+jwt';

export const CHECKPOINT_KEY: DedicatedKeyPurpose = {
  purpose: 'audit-checkpoint',
  alg: 'ES256',
  kidPrefix: AUDIT_CHECKPOINT_KID_PREFIX,
  typ: CHECKPOINT_TYP,
  sealedAs: 'audit-key',
};

/** A signed chain head. `jws` is a compact JWS over `{iss, iat, seq, hash}`; the rest repeats what it signs. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** Epoch milliseconds of signing (`iat` × 1000). */
  time: number;
  kid: string;
  jws: string;
}

export class AuditCheckpoints {
  readonly #db: Kysely<Database>;
  readonly #key: DedicatedKey;
  readonly #issuer: string;
  readonly #now: () => number;

  constructor(deps: { db: Kysely<Database>; key: DedicatedKey; issuer: string; now?: () => number }) {
    this.#db = deps.db;
    this.#key = deps.key;
    this.#issuer = deps.issuer;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Signs the current head; undefined while the log is empty. At a head already checkpointed, returns the stored
   * checkpoint (`created: false`), so nodes and schedules asking at once store one.
   */
  async create(): Promise<{ checkpoint: AuditCheckpoint; created: boolean } | undefined> {
    const head = await this.#db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (head === undefined) return undefined;
    const stored = await this.#at(head.seq);
    if (stored !== undefined) return { checkpoint: stored, created: false };
    const iat = Math.floor(this.#now() / 1000);
    const jws = this.#key.sign({ iss: this.#issuer, iat, seq: head.seq, hash: head.hash });
    const checkpoint: AuditCheckpoint = { seq: head.seq, hash: head.hash, time: iat * 1000, kid: this.#key.kid, jws };
    const inserted = await this.#db
      .insertInto('audit_checkpoints')
      .values(checkpoint)
      .onConflict((oc) => oc.column('seq').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { checkpoint, created: true };
    const winner = await this.#at(head.seq);
    if (winner === undefined) throw new Error(`checkpoint at ${head.seq} was neither stored nor found`);
    return { checkpoint: winner, created: false };
  }

  /** The seq of the newest checkpoint, 0 when there is none. */
  async latestSeq(): Promise<number> {
    const row = await this.#db.selectFrom('audit_checkpoints').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row?.seq ?? 0;
  }

  /** Checkpoints after `afterSeq`, oldest first. */
  list(o: { afterSeq?: number; limit?: number } = {}): Promise<AuditCheckpoint[]> {
    return this.#db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('seq', '>', o.afterSeq ?? 0)
      .orderBy('seq')
      .limit(o.limit ?? 1000)
      .execute();
  }

  #at(seq: number): Promise<AuditCheckpoint | undefined> {
    return this.#db.selectFrom('audit_checkpoints').selectAll().where('seq', '=', seq).executeTakeFirst();
  }
}

export class CheckpointInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointInvalidError';
  }
}

/**
 * Checks a checkpoint's signature against a JWKS (Writ's, fetched or saved) and returns what it signs. Only a key
 * whose id has the checkpoint prefix, ES256 and the checkpoint `typ` are accepted; `issuer`, when given, must match.
 *
 * @example
 * const { seq, hash } = await verifyCheckpoint(line.jws, jwks, 'https://writ.example');
 */
export async function verifyCheckpoint(
  jws: string,
  jwks: JSONWebKeySet,
  issuer?: string,
): Promise<{ seq: number; hash: string; time: number; kid: string; iss: string }> {
  const keys = { keys: jwks.keys.filter((k) => typeof k.kid === 'string' && k.kid.startsWith(AUDIT_CHECKPOINT_KID_PREFIX)) };
  let verified;
  try {
    verified = await compactVerify(jws, createLocalJWKSet(keys), { algorithms: ['ES256'] });
  } catch (err) {
    throw new CheckpointInvalidError(`checkpoint signature: ${(err as Error).message}`);
  }
  if (verified.protectedHeader.typ !== CHECKPOINT_TYP)
    throw new CheckpointInvalidError(`checkpoint typ ${String(verified.protectedHeader.typ)}`);
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
  } catch {
    throw new CheckpointInvalidError('checkpoint payload is not JSON');
  }
  const { iss, iat, seq, hash } = claims;
  if (
    typeof iss !== 'string' ||
    !Number.isSafeInteger(iat) ||
    !Number.isSafeInteger(seq) ||
    (seq as number) < 1 ||
    typeof hash !== 'string' ||
    !/^[0-9a-f]{64}$/.test(hash)
  )
    throw new CheckpointInvalidError('checkpoint claims malformed');
  if (issuer !== undefined && iss !== issuer) throw new CheckpointInvalidError(`checkpoint issuer ${iss}, expected ${issuer}`);
  return { seq: seq as number, hash, time: (iat as number) * 1000, kid: verified.protectedHeader.kid ?? '', iss };
}
