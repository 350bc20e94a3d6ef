export { createUserTokenVerifier } from './user-token-verifier.js';
export type { TrustedProvider, VerifiedUser, UserTokenVerifier } from './user-token-verifier.js';
