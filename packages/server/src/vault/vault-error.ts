/** Errors of the vault that are not admin-API errors: they stay inside the server (the gateway maps them to 502). */
import type { CodesOf } from '../errors/index.js';

export type VaultErrorCode = CodesOf<'VAULT'>;

export class VaultError extends Error {
  readonly code: VaultErrorCode;
  constructor(code: VaultErrorCode, message: string) {
    super(message);
    this.name = 'VaultError';
    this.code = code;
  }
}
