/**
 * @writ/verify — the one implementation of Writ's per-call checks (task token, DPoP proof, key binding,
 * revocation, path canonicalisation, authorization details), used by Writ's gateway and token service and by
 * services that verify Writ tokens themselves.
 *
 * @example
 * const { claims } = await checkCall({ method, url, authorization, dpop }, { issuer, audience, keys, replay, revocations, maxAgeSeconds: 60, clockSkewSeconds: 5 });
 * const path = normalizeRequestPath(rawPath);
 * if (!matchAuthorizationDetails(claims.authorization_details, { resource: audience, method, path })) deny();
 */
export { checkCall, extractDpopToken } from './check/check-call.js';
export type { CallRequest, CheckCallContext, VerifiedCall } from './check/check-call.js';
export { verifyTaskToken } from './token/verify-task-token.js';
export type { TaskTokenCheckOptions } from './token/verify-task-token.js';
export { tokenKeysFromJwks } from './token/token-keys.js';
export type { TokenKeys } from './token/token-keys.js';
export { VerifiedTokenCache } from './token/verified-token-cache.js';
export type { VerifiedToken } from './token/verified-token-cache.js';
export { verifyDpopProof } from './dpop/verify-dpop-proof.js';
export type { DpopCheckOptions, VerifiedDpopProof } from './dpop/verify-dpop-proof.js';
export { InMemoryReplayCache, ReplayCacheFullError } from './dpop/replay-cache.js';
export type { ReplayCache } from './dpop/replay-cache.js';
export { normalizeHtu } from './dpop/normalize-htu.js';
export { jwkThumbprint } from './jwk/jwk-thumbprint.js';
export type { PublicJwk } from './jwk/jwk-thumbprint.js';
export { importPublicJwk } from './jwk/import-public-jwk.js';
export { parseCompactJws, verifyJwsSignature, keyFitsAlg, JWS_ALGS } from './jws/verify-compact-jws.js';
export type { ParsedJws, JwsAlg } from './jws/verify-compact-jws.js';
export { normalizeRequestPath, MAX_PATH_LENGTH } from './path/normalize-request-path.js';
export { canonicalPathPattern, compilePathPattern, PathPatternError } from './authorization/path-pattern.js';
export { matchAuthorizationDetails, isSubsetOf } from './authorization/match-authorization-details.js';
export type { HttpCall } from './authorization/match-authorization-details.js';
export {
  matchMcpToolCall,
  matchMcpPromptGet,
  mcpToolPermitted,
  mcpPromptPermitted,
  mcpResourcePermitted,
  canonicalMcpDetail,
  McpDetailError,
} from './authorization/match-mcp-tool-call.js';
export { isCanonicalPath } from './authorization/argument-constraint.js';
export type { McpToolCall } from './authorization/match-mcp-tool-call.js';
export { RevocationSet } from './revocation/revocation-set.js';
export type { RevocationEntry, RevocationEntryTarget } from './revocation/revocation-set.js';
export { createDpopNonces } from './dpop/dpop-nonce.js';
export type { DpopNonces } from './dpop/dpop-nonce.js';
export { createWritVerifier, publicRequestUrl } from './middleware/create-writ-verifier.js';
export type { WritVerifier, WritVerifierOptions, WritVerifierState, VerifierRequest } from './middleware/create-writ-verifier.js';
export { denialResponse } from './middleware/denial-response.js';
export type { DenialResponse, DenialResponseOptions } from './middleware/denial-response.js';
export type { WritAdapterOptions } from './middleware/adapter-options.js';
export { RevocationFeed } from './middleware/revocation-feed.js';
export type { RevocationFeedOptions, RevocationFeedState } from './middleware/revocation-feed.js';
export { RemoteJwks } from './middleware/remote-jwks.js';
export type { RemoteJwksOptions } from './middleware/remote-jwks.js';
