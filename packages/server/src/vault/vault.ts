/**
 * The vault: upstream credentials, envelope-encrypted at rest (one fresh data key per version, wrapped by the KEK),
 * versioned, and write-only through every API (principle 2). The only way out of the plaintext is
 * `getSecretValue`, which the gateway uses to inject; it is never wired to an admin route.
 */
import type { Kysely } from 'kysely';
import { openEnvelope, sealEnvelope, SecretValue, type KeyEncryptionKey } from '../crypto/index.js';
import { AdminError } from '../errors/index.js';
import type { Database, SecretRow } from '../storage/index.js';
import { VaultError } from './vault-error.js';

/** What the admin API may show about a secret: everything except its value. */
export interface SecretSummary {
  id: string;
  description: string;
  current_version: number;
  created_at: number;
  updated_at: number;
}

export interface SecretVersionInfo {
  version: number;
  kek_id: string;
  created_at: number;
}

export interface SecretMetadata extends SecretSummary {
  versions: SecretVersionInfo[];
}

export interface Vault {
  /** Stores `value` as a new version (version 1 when the secret is new). `description` replaces the old one when given. */
  putSecret(id: string, value: SecretValue, description?: string): Promise<SecretMetadata>;
  /** Server-internal: the current value, for injection at the gateway. Never expose through an API. */
  getSecretValue(id: string): Promise<SecretValue>;
  describeSecret(id: string): Promise<SecretMetadata>;
  listSecrets(): Promise<SecretSummary[]>;
  /** Deletes the secret and all its versions; refused while a resource still injects it. */
  deleteSecret(id: string): Promise<void>;
  /** Drops cached plaintext: one secret, or all. Another node changed the secret; or a test wants a cold cache. */
  invalidate(id?: string): void;
}

export interface VaultOptions {
  db: Kysely<Database>;
  /** The KEK new versions are sealed with. */
  kek: KeyEncryptionKey;
  /** Older KEKs still accepted for opening, during a rotation. */
  previousKeks?: readonly KeyEncryptionKey[];
  now?: () => number;
  /**
   * How long a decrypted value may be served from memory. Changes made through this vault invalidate at once; the
   * bound covers changes made by another node that this one was not told about.
   */
  cacheTtlMs?: number;
}

const MAX_VALUE_BYTES = 64 * 1024;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** The AAD of a secret version: a ciphertext opens only in the row it was written for. */
export function secretAad(id: string, version: number): string {
  return `secret:${id}:${version}`;
}

/**
 * @example
 * const vault = createVault({ db: store.db, kek });
 * await vault.putSecret('github', new SecretValue(token), 'GitHub PAT of the CI bot');
 * (await vault.describeSecret('github')).current_version // 1
 * const value = await vault.getSecretValue('github'); // gateway only
 */
export function createVault(opts: VaultOptions): Vault {
  const { db, kek } = opts;
  const keks = [kek, ...(opts.previousKeks ?? [])];
  const now = opts.now ?? Date.now;
  const ttl = opts.cacheTtlMs ?? 60_000;
  const cache = new Map<string, { value: SecretValue; version: number; expires: number }>();
  const loading = new Map<string, Promise<SecretValue>>();
  // Bumped by every invalidation: a load that started before it must not repopulate the cache with what it read.
  let generation = 0;

  function invalidate(id?: string): void {
    generation++;
    if (id === undefined) {
      cache.clear();
      loading.clear();
    } else {
      cache.delete(id);
      loading.delete(id);
    }
  }

  async function load(id: string): Promise<SecretValue> {
    const startedAt = generation;
    const row = await db
      .selectFrom('secrets')
      .innerJoin('secret_versions', (j) =>
        j.onRef('secret_versions.secret_id', '=', 'secrets.id').onRef('secret_versions.version', '=', 'secrets.current_version'),
      )
      .select(['secrets.current_version as version', 'secret_versions.envelope as envelope'])
      .where('secrets.id', '=', id)
      .executeTakeFirst();
    if (row === undefined) throw new VaultError('ERR_VAULT_SECRET_UNKNOWN', `no secret ${id}`);
    const plain = openEnvelope(keks, row.envelope, secretAad(id, row.version));
    const value = new SecretValue(plain.toString('utf8'));
    plain.fill(0);
    if (generation === startedAt) cache.set(id, { value, version: row.version, expires: now() + ttl });
    return value;
  }

  return {
    async putSecret(id, value, description) {
      checkId(id);
      if (!(value instanceof SecretValue))
        throw new TypeError('putSecret expects a SecretValue, so the plaintext cannot be logged on the way');
      const bytes = Buffer.from(value.reveal(), 'utf8');
      if (bytes.length === 0) throw new TypeError('a secret value cannot be empty');
      if (bytes.length > MAX_VALUE_BYTES) throw new TypeError(`a secret value is at most ${MAX_VALUE_BYTES} bytes`);
      if (description !== undefined && typeof description !== 'string') throw new TypeError('description must be a string');
      const t = now();
      try {
        // Described inside the transaction, so the answer names the version this call wrote even under concurrency.
        return await db.transaction().execute(async (trx) => {
          // Insert-or-bump in one statement each, so two concurrent puts on PostgreSQL serialise on the row lock and
          // get consecutive versions instead of colliding on the (secret_id, version) key.
          const created = await trx
            .insertInto('secrets')
            .values({ id, current_version: 1, description: description ?? '', created_at: t, updated_at: t })
            .onConflict((oc) => oc.column('id').doNothing())
            .returning('current_version')
            .executeTakeFirst();
          let version = created?.current_version;
          if (version === undefined) {
            const bumped = await trx
              .updateTable('secrets')
              .set((eb) => ({
                current_version: eb('current_version', '+', 1),
                updated_at: t,
                ...(description !== undefined ? { description } : {}),
              }))
              .where('id', '=', id)
              .returning('current_version')
              .executeTakeFirstOrThrow();
            version = bumped.current_version;
          }
          await trx
            .insertInto('secret_versions')
            .values({ secret_id: id, version, kek_id: kek.id, envelope: sealEnvelope(kek, bytes, secretAad(id, version)), created_at: t })
            .execute();
          return describeIn(trx, id);
        });
      } finally {
        bytes.fill(0);
        invalidate(id);
      }
    },

    getSecretValue(id) {
      const hit = cache.get(id);
      if (hit !== undefined && hit.expires > now()) return Promise.resolve(hit.value);
      // Coalesce a burst of cold-cache calls into one read and one decryption.
      const pending = loading.get(id);
      if (pending !== undefined) return pending;
      const p = load(id).finally(() => {
        if (loading.get(id) === p) loading.delete(id);
      });
      loading.set(id, p);
      return p;
    },

    describeSecret: (id) => describeIn(db, id),

    async listSecrets() {
      const rows = await db.selectFrom('secrets').selectAll().orderBy('id').execute();
      return rows.map(summary);
    },

    async deleteSecret(id) {
      checkId(id);
      try {
        await db.transaction().execute(async (trx) => {
          const users = await trx.selectFrom('resources').select('id').where('secret_id', '=', id).execute();
          if (users.length > 0) {
            throw new AdminError(
              'ERR_ADMIN_CONFLICT',
              `secret ${id} is injected by resource ${users.map((u) => u.id).join(', ')}; change or delete those first`,
            );
          }
          await trx.deleteFrom('secret_versions').where('secret_id', '=', id).execute();
          const res = await trx.deleteFrom('secrets').where('id', '=', id).executeTakeFirst();
          if (res.numDeletedRows === 0n) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no secret ${id}`);
        });
      } finally {
        invalidate(id);
      }
    },

    invalidate,
  };
}

async function describeIn(db: Kysely<Database>, id: string): Promise<SecretMetadata> {
  const row = await db.selectFrom('secrets').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', `no secret ${id}`);
  // Explicit column list: the envelope column is never selected on a path that leads to an API response.
  const versions = await db
    .selectFrom('secret_versions')
    .select(['version', 'kek_id', 'created_at'])
    .where('secret_id', '=', id)
    .orderBy('version')
    .execute();
  return { ...summary(row), versions };
}

function summary(r: SecretRow): SecretSummary {
  return { id: r.id, description: r.description, current_version: r.current_version, created_at: r.created_at, updated_at: r.updated_at };
}

function checkId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id))
    throw new TypeError('secret id must be 1-200 characters of [A-Za-z0-9._:-], starting with a letter or digit');
}
