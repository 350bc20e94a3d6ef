/**
 * Errors of the crypto module. Security failures carry fixed, generic messages (jose's rule): they say which check
 * failed, never anything about the key or the plaintext.
 */
export const CRYPTO_ERROR_CODES = [
  /** The key-encryption key given to Writ is unusable (wrong length, not base64). */
  'ERR_CRYPTO_KEK_INVALID',
  /** The envelope names a KEK id that Writ has not been given. */
  'ERR_CRYPTO_KEK_UNKNOWN',
  /** The envelope is not a well-formed v1 envelope. */
  'ERR_CRYPTO_ENVELOPE_MALFORMED',
  /** The data key did not unwrap: a different KEK under the same id, or a tampered key part. */
  'ERR_CRYPTO_UNWRAP_FAILED',
  /** The data did not decrypt: tampered ciphertext/IV/tag, or the envelope belongs to another record (AAD). */
  'ERR_CRYPTO_DECRYPT_FAILED',
] as const;

export type CryptoErrorCode = (typeof CRYPTO_ERROR_CODES)[number];

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CryptoError';
    this.code = code;
  }
}
