/** The vault: envelope-encrypted, versioned, write-only secrets, and the rules that inject them at the gateway. */
export { createVault, secretAad, SECRET_ENVELOPES } from './vault.js';
export type { Vault, VaultOptions, SecretEntry, SecretMetadata, SecretSummary, SecretVersionInfo } from './vault.js';
export { applyInjection, injectionRuleSchema } from './injection.js';
export type { InjectionRule, InjectionTarget } from './injection.js';
export { SecretScrubber, ChunkScrubber, MIN_FORM_BYTES, formsOf } from './secret-scrubber.js';
export type { InjectedValue } from './secret-scrubber.js';
export { staticCredentials, vaultCredentials, ScrubberCache } from './upstream-credentials.js';
export { UpstreamTokenMinter, TokenEndpointRefusal } from './upstream-token-minter.js';
export type {
  AssertionSigner,
  ConnectionStore,
  UpstreamTokenMinterDeps,
  MintRequest,
  MintedToken,
  StoredRefreshToken,
} from './upstream-token-minter.js';
export { Connections, CONNECTION_ENVELOPES, connectionAad } from './connections.js';
export type { ConnectionStatus, ConnectionSummary, PendingConnect } from './connections.js';
export { secretKindInput, SECRET_KINDS, splitSecretInput } from './secret-kinds.js';
export type { SecretKind, SecretKindInput, ClientCredentialsConfig } from './secret-kinds.js';
export type { UpstreamCredentials, UpstreamCredential, CallPrincipal } from './upstream-credentials.js';
export { kekInventory, rotateKek } from './kek-rotation.js';
export type { KekInventory, KekRotationReport } from './kek-rotation.js';
export { VaultError } from './vault-error.js';
export type { VaultErrorCode } from './vault-error.js';
// The gateway receives secrets as this type; re-exported so it needs no second import path.
export { SecretValue } from '../crypto/index.js';
