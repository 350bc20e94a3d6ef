/**
 * Errors of the crypto module. Security failures carry fixed, generic messages (jose's rule): they say which check
 * failed, never anything about the key or the plaintext. Codes come from the one internal registry.
 */
import type { CodesOf } from '../errors/index.js';

export type CryptoErrorCode = CodesOf<'CRYPTO'>;

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CryptoError';
    this.code = code;
  }
}
