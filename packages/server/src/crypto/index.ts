/** All key material is created and used here (CONVENTIONS §9); other modules get types and functions only. */
export { SecretValue } from './secret-value.js';
export { KeyEncryptionKey, KeyRing, deriveKey } from './key-encryption-key.js';
export { sealEnvelope, openEnvelope, rewrapEnvelope, envelopeKekId } from './envelope.js';
export type { Envelope, Keks } from './envelope.js';
export { CryptoError } from './crypto-error.js';
export type { CryptoErrorCode } from './crypto-error.js';
export { sha256Hex } from './sha256.js';
export type { SealedColumn } from './sealed-column.js';
