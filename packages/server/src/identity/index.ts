export { createUserTokenVerifier } from './user-token-verifier.js';
export type { TrustedProvider, VerifiedUser, UserTokenVerifier, UserTokenVerifierOptions } from './user-token-verifier.js';
export { isAllowedProviderUrl, isLoopbackHost } from './provider-url.js';
