/** The vault: envelope-encrypted, versioned, write-only secrets, and the rules that inject them at the gateway. */
export { createVault, secretAad } from './vault.js';
export type { Vault, VaultOptions, SecretMetadata, SecretSummary, SecretVersionInfo } from './vault.js';
export { applyInjection, injectionRuleSchema } from './injection.js';
export type { InjectionRule, InjectionTarget } from './injection.js';
export { VaultError } from './vault-error.js';
export type { VaultErrorCode } from './vault-error.js';
// The gateway receives secrets as this type; re-exported so it needs no second import path.
export { SecretValue } from '../crypto/index.js';
