/** Errors of the vault that are not admin-API errors: they stay inside the server (the HTTP gateway answers 502 ERR_UPSTREAM_CREDENTIAL_UNAVAILABLE and audits the code). */
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
