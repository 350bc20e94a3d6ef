/**
 * The composition root's vault part: the KEK ring, the secrets, people's connected accounts, the minter of upstream
 * tokens (with the dedicated key its assertions are signed with) and what the gateways inject per call — and the
 * admin services over them (connections, KEK rotation). Kept apart from writ-server.ts, as gateways.ts is.
 */
import type { Kysely } from 'kysely';
import { UPSTREAM_ASSERTION_KID_PREFIX } from '@writ/protocol';
import { APPROVAL_ENVELOPES } from '../approvals/index.js';
import { CHECKPOINT_KEY } from '../audit/index.js';
import type { WritConfig } from '../config/index.js';
import { KeyEncryptionKey, KeyRing, type SealedColumn } from '../crypto/index.js';
import { DedicatedKey, dedicatedKeyEnvelopes, type DedicatedKeyPurpose } from '../dedicated-keys/index.js';
import type { EgressGuard } from '../http/index.js';
import type { Logger } from '../observability/index.js';
import type { Register } from '../register/index.js';
import type { RevocationWriteHook } from '../revocation/index.js';
import type { ConnectedAccountsDeps } from '../authorization/index.js';
import { SET_KEY, SSF_STREAM_ENVELOPES } from '../ssf/index.js';
import type { Database } from '../storage/index.js';
import { SIGNING_KEY_ENVELOPES } from '../token/index.js';
import {
  CONNECTION_ENVELOPES,
  Connections,
  SECRET_ENVELOPES,
  UpstreamTokenMinter,
  createVault,
  kekInventory,
  rotateKek,
  vaultCredentials,
  type ConnectionSummary,
  type KekInventory,
  type KekRotationReport,
  type UpstreamCredentials,
  type Vault,
} from '../vault/index.js';

/** The key of Writ's assertions to upstream authorization servers (`token_exchange` secrets): in its JWKS, never a token key. */
const UPSTREAM_ASSERTION_KEY: DedicatedKeyPurpose = {
  purpose: 'upstream-assertion',
  alg: 'ES256',
  kidPrefix: UPSTREAM_ASSERTION_KID_PREFIX,
  typ: 'JWT',
  sealedAs: 'upstream-assertion-key',
};

/** Every column that holds envelopes sealed with the KEK: what `writ vault rotate-kek` re-wraps. */
const SEALED_COLUMNS: readonly SealedColumn[] = [
  SECRET_ENVELOPES,
  SIGNING_KEY_ENVELOPES,
  dedicatedKeyEnvelopes([SET_KEY, CHECKPOINT_KEY, UPSTREAM_ASSERTION_KEY]),
  SSF_STREAM_ENVELOPES,
  CONNECTION_ENVELOPES,
  APPROVAL_ENVELOPES,
];

type NodeConnectedAccounts = Pick<ConnectedAccountsDeps, 'connections' | 'secrets' | 'redeemCode' | 'revokeAtUpstream' | 'changed'>;

/** The current KEK seals; the previous ones still open what they sealed until a rotation has re-wrapped it. */
export function keyRing(config: WritConfig): KeyRing {
  if (config.vault.kek === undefined) throw new Error('vault.kek (or WRIT_KEK) is required: 32 random bytes, base64');
  return new KeyRing(
    KeyEncryptionKey.fromBase64(config.vault.kekId, config.vault.kek),
    config.vault.previousKeks.map((entry) => {
      const at = entry.lastIndexOf(':');
      return KeyEncryptionKey.fromBase64(entry.slice(0, at), entry.slice(at + 1));
    }),
  );
}

export interface VaultParts {
  vault: Vault;
  connections: Connections;
  minter: UpstreamTokenMinter;
  /** Published in Writ's JWKS, so upstream authorization servers can check Writ's assertions. */
  assertionKey: DedicatedKey;
  /** What the gateways inject per call, whatever the kind of secret. */
  credentials: UpstreamCredentials;
  /** A secret changed (here or on another node), or everything must be read again. */
  invalidate(secretId?: string): void;
  /** For the admin API. */
  kekServices: { inventory(): Promise<KekInventory>; rotate(): Promise<KekRotationReport> };
  /** A revocation write hook: revoking a person revokes their connected accounts in the same transaction. */
  revokeConnectionsOfRevokedUsers: RevocationWriteHook;
  /** What the connected-accounts pages need of the vault; `changed` puts a connection change in force. */
  connectedAccounts(changed: ConnectedAccountsDeps['changed']): NodeConnectedAccounts;
  connectionServices(register: Register): {
    list(filter: { secretId?: string; userId?: string }): Promise<ConnectionSummary[]>;
    revoke(secretId: string, userId: string, actor: string): Promise<number>;
  };
  close(): Promise<void>;
}

export async function createVaultParts(w: {
  config: WritConfig;
  db: Kysely<Database>;
  kek: KeyRing;
  egress: EgressGuard;
  /** Writ's public URL: the issuer of its assertions, and where people connect their accounts. */
  publicUrl: string;
  logger: Logger;
  now: () => number;
}): Promise<VaultParts> {
  const { db, kek, now } = w;
  const vault = createVault({ db, kek });
  const connections = new Connections({ db, kek, now });
  const tokenEndpoints = w.egress.agent({ keepAliveTimeout: 30_000, connectTimeout: 10_000 });
  const assertionKey = await DedicatedKey.load({ db, kek, now }, UPSTREAM_ASSERTION_KEY);
  // Upstream tokens Writ mints (client credentials, token exchange, connected accounts): in memory only.
  const minter = new UpstreamTokenMinter({
    dispatcher: tokenEndpoints,
    issuer: w.publicUrl,
    assertions: assertionKey,
    connections,
    connectUrl: (secretId) => `${w.publicUrl}/oauth2/connections/${encodeURIComponent(secretId)}/connect`,
    now,
    timeoutMs: w.config.server.upstreamTimeoutMs,
    failed: (secretId, detail) => w.logger.warn({ secret: secretId, detail }, 'upstream credential not obtained'),
  });
  return {
    vault,
    connections,
    minter,
    assertionKey,
    credentials: vaultCredentials(vault, minter),
    invalidate: (secretId) => {
      vault.invalidate(secretId);
      minter.invalidate(secretId);
    },
    kekServices: {
      inventory: () => kekInventory(db, kek, SEALED_COLUMNS),
      rotate: () => rotateKek(db, kek, SEALED_COLUMNS),
    },
    connectionServices: (register) => ({
      list: (filter) => connections.list(filter),
      revoke: async (secretId, userId, actor) => {
        const revoked = await connections.revoke({ secretId, userId });
        if (revoked.length === 0) return 0;
        const entry = await vault.getSecretEntry(secretId).catch(() => undefined);
        if (entry !== undefined) for (const r of revoked) await minter.revokeAtUpstream(entry, r.refreshToken).catch(() => undefined);
        register.noteConnectionChange(secretId, userId, 'connection.revoked', actor);
        return revoked.length;
      },
    }),
    revokeConnectionsOfRevokedUsers: async (trx, row) => {
      if (row.target_type !== 'user') return;
      await trx
        .updateTable('upstream_connections')
        .set({ status: 'revoked', refresh_envelope: null, updated_at: now() })
        .where('user_id', '=', row.target_id)
        .where('status', '=', 'active')
        .execute();
    },
    connectedAccounts: (changed) => ({
      connections,
      secrets: { entry: (id) => vault.getSecretEntry(id), list: () => vault.listSecrets() },
      redeemCode: (entry, o) => minter.redeemCode(entry, o),
      revokeAtUpstream: (entry, token) => minter.revokeAtUpstream(entry, token),
      changed,
    }),
    close: () => tokenEndpoints.close(),
  };
}
