export { createUserTokenVerifier } from './user-token-verifier.js';
export type { TrustedProvider, VerifiedUser, UserTokenVerifier, UserTokenVerifierOptions } from './user-token-verifier.js';
export { isAllowedProviderUrl } from './provider-url.js';
export { createWorkloadTokenVerifier } from './workload-token-verifier.js';
export type { TrustedWorkloadIssuer, VerifiedWorkload, WorkloadTokenVerifier } from './workload-token-verifier.js';
export { compileSubjectPattern, matchesSubjectPattern, SubjectPatternError } from './subject-pattern.js';
export { verifyJwt, VerifiedSignatureCache } from './jwt-verify.js';
export type { JwtKeyResolver, JwtVerifyStats } from './jwt-verify.js';
