/** Errors of the vault that are not admin-API errors: they stay inside the server (the gateway maps them to 502). */
export const VAULT_ERROR_CODES = [
  /** The gateway asked for a secret that does not exist (a resource names a deleted secret). */
  'ERR_VAULT_SECRET_UNKNOWN',
  /** An injection rule or the secret it would inject cannot form a valid header or query parameter. */
  'ERR_VAULT_INJECTION_INVALID',
] as const;

export type VaultErrorCode = (typeof VAULT_ERROR_CODES)[number];

export class VaultError extends Error {
  readonly code: VaultErrorCode;
  constructor(code: VaultErrorCode, message: string) {
    super(message);
    this.name = 'VaultError';
    this.code = code;
  }
}
