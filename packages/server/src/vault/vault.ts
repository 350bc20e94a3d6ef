/**
 * The vault: upstream credentials, envelope-encrypted at rest (one fresh data key per version, wrapped by the KEK),
 * versioned, and write-only through every API (principle 2). The only way out of the plaintext is
 * `getSecretValue`, which the gateway uses to inject; it is never wired to an admin route.
 */
import type { Kysely } from 'kysely';
import { KeyRing, openEnvelope, sealEnvelope, SecretValue, type KeyEncryptionKey, type SealedColumn } from '../crypto/index.js';
import { AdminError } from '../errors/index.js';
import type { Database, SecretRow } from '../storage/index.js';
import { VaultError } from './vault-error.js';

/** What the admin API may show about a secret: everything except its value. */
export interface SecretSummary {
  id: string;
  /** `static`, or a kind the vault mints credentials from (secret-kinds.ts). */
  kind: string;
  /** The kind's settings that are not secret (token endpoint, client id, scope …); null for `static`. */
  config: Record<string, unknown> | null;
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

/** A secret as the gateway's credential sources read it: its kind and settings, and the sealed value opened. */
export interface SecretEntry {
  id: string;
  kind: string;
  config: Record<string, unknown> | null;
  version: number;
  value: SecretValue;
}

export interface Vault {
  /**
   * Stores `value` as a new version (version 1 when the secret is new). `description` replaces the old one when given;
   * `kind` (default static) and its clear settings replace the old ones.
   */
  putSecret(
    id: string,
    value: SecretValue,
    description?: string,
    kind?: { kind: string; config: Record<string, unknown> | null },
  ): Promise<SecretMetadata>;
  /** Server-internal: the current value, for injection at the gateway. Never expose through an API. */
  getSecretValue(id: string): Promise<SecretValue>;
  /** Server-internal: the current version with its kind and settings (the credential sources' view). */
  getSecretEntry(id: string): Promise<SecretEntry>;
  describeSecret(id: string): Promise<SecretMetadata>;
  listSecrets(): Promise<SecretSummary[]>;
  /** Deletes the secret and all its versions; refused while a resource still injects it. */
  deleteSecret(id: string): Promise<void>;
  /** Drops cached plaintext: one secret, or all. Another node changed the secret; or a test wants a cold cache. */
  invalidate(id?: string): void;
}

export interface VaultOptions {
  db: Kysely<Database>;
  /** The KEK new versions are sealed with, or the ring of it and the KEKs being rotated out. */
  kek: KeyEncryptionKey | KeyRing;
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

/** Where secret versions are sealed (for `writ vault rotate-kek`). */
export const SECRET_ENVELOPES: SealedColumn = {
  name: 'secrets',
  table: 'secret_versions',
  key: ['secret_id', 'version'],
  column: 'envelope',
  aad: (row) => secretAad(String(row['secret_id']), Number(row['version'])),
  kekIdColumn: 'kek_id',
};

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
  const { db } = opts;
  const ring = opts.kek instanceof KeyRing ? opts.kek : new KeyRing(opts.kek, opts.previousKeks);
  const kek = ring.current;
  const now = opts.now ?? Date.now;
  const ttl = opts.cacheTtlMs ?? 60_000;
  const cache = new Map<string, { entry: SecretEntry; expires: number }>();
  const loading = new Map<string, Promise<SecretEntry>>();
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

  async function load(id: string): Promise<SecretEntry> {
    const startedAt = generation;
    const row = await db
      .selectFrom('secrets')
      .innerJoin('secret_versions', (j) =>
        j.onRef('secret_versions.secret_id', '=', 'secrets.id').onRef('secret_versions.version', '=', 'secrets.current_version'),
      )
      .select([
        'secrets.current_version as version',
        'secrets.kind as kind',
        'secrets.config as config',
        'secret_versions.envelope as envelope',
      ])
      .where('secrets.id', '=', id)
      .executeTakeFirst();
    if (row === undefined) throw new VaultError('ERR_VAULT_SECRET_UNKNOWN', `no secret ${id}`);
    const plain = openEnvelope(ring, row.envelope, secretAad(id, row.version));
    const value = new SecretValue(plain.toString('utf8'));
    plain.fill(0);
    const entry: SecretEntry = { id, kind: row.kind, config: parseConfig(row.config), version: row.version, value };
    if (generation === startedAt) cache.set(id, { entry, expires: now() + ttl });
    return entry;
  }

  function entryOf(id: string): Promise<SecretEntry> {
    const hit = cache.get(id);
    if (hit !== undefined && hit.expires > now()) return Promise.resolve(hit.entry);
    // Coalesce a burst of cold-cache calls into one read and one decryption.
    const pending = loading.get(id);
    if (pending !== undefined) return pending;
    const p = load(id).finally(() => {
      if (loading.get(id) === p) loading.delete(id);
    });
    loading.set(id, p);
    return p;
  }

  return {
    async putSecret(id, value, description, kind = { kind: 'static', config: null }) {
      checkId(id);
      if (!(value instanceof SecretValue))
        throw new TypeError('putSecret expects a SecretValue, so the plaintext cannot be logged on the way');
      const bytes = Buffer.from(value.reveal(), 'utf8');
      if (bytes.length === 0) throw new TypeError('a secret value cannot be empty');
      if (bytes.length > MAX_VALUE_BYTES) throw new TypeError(`a secret value is at most ${MAX_VALUE_BYTES} bytes`);
      if (description !== undefined && typeof description !== 'string') throw new TypeError('description must be a string');
      const config = kind.config === null ? null : JSON.stringify(kind.config);
      const t = now();
      try {
        // Described inside the transaction, so the answer names the version this call wrote even under concurrency.
        return await db.transaction().execute(async (trx) => {
          // Insert-or-bump in one statement each, so two concurrent puts on PostgreSQL serialise on the row lock and
          // get consecutive versions instead of colliding on the (secret_id, version) key.
          const created = await trx
            .insertInto('secrets')
            .values({ id, kind: kind.kind, config, current_version: 1, description: description ?? '', created_at: t, updated_at: t })
            .onConflict((oc) => oc.column('id').doNothing())
            .returning('current_version')
            .executeTakeFirst();
          let version = created?.current_version;
          if (version === undefined) {
            const bumped = await trx
              .updateTable('secrets')
              .set((eb) => ({
                current_version: eb('current_version', '+', 1),
                kind: kind.kind,
                config,
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
      // The hot path of a static secret: no promise chain on a cache hit.
      if (hit !== undefined && hit.expires > now()) return Promise.resolve(hit.entry.value);
      return entryOf(id).then((e) => e.value);
    },

    getSecretEntry: entryOf,

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
  return {
    id: r.id,
    kind: r.kind,
    config: parseConfig(r.config),
    description: r.description,
    current_version: r.current_version,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

function parseConfig(text: string | null): Record<string, unknown> | null {
  return text === null ? null : (JSON.parse(text) as Record<string, unknown>);
}

function checkId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id))
    throw new TypeError('secret id must be 1-200 characters of [A-Za-z0-9._:-], starting with a letter or digit');
}
