/**
 * @writ/verify/internal — the building blocks of the per-call check as Writ's own server composes them (the gateway,
 * the token service, the revocation set it keeps current). Not a public API: it changes with the server, without
 * notice. Services use the package root.
 */
export { checkCall, extractDpopToken, RevokedCredentialError } from './check/check-call.js';
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
export { createDpopNonces } from './dpop/dpop-nonce.js';
export type { DpopNonces } from './dpop/dpop-nonce.js';
export { jwkThumbprint } from './jwk/jwk-thumbprint.js';
export type { PublicJwk } from './jwk/jwk-thumbprint.js';
export { importPublicJwk } from './jwk/import-public-jwk.js';
export { parseCompactJws, verifyJwsSignature, keyFitsAlg, JWS_ALGS } from './jws/verify-compact-jws.js';
export type { ParsedJws, JwsAlg } from './jws/verify-compact-jws.js';
export { canonicalPathPattern, compilePathPattern, PathPatternError } from './authorization/path-pattern.js';
export { isSubsetOf } from './authorization/match-authorization-details.js';
export { canonicalMcpDetail, McpDetailError } from './authorization/match-mcp-tool-call.js';
export { isCanonicalPath } from './authorization/argument-constraint.js';
export { RevocationSet } from './revocation/revocation-set.js';
export type { RevocationEntry, RevocationEntryTarget } from './revocation/revocation-set.js';
export { RevocationFeed } from './middleware/revocation-feed.js';
export type { RevocationFeedOptions, RevocationFeedState } from './middleware/revocation-feed.js';
export { RemoteJwks } from './middleware/remote-jwks.js';
export type { RemoteJwksOptions } from './middleware/remote-jwks.js';
export { headerValues } from './http/header-values.js';
export type { RawHeaders } from './http/header-values.js';
export { fetchBounded } from './http/fetch-bounded.js';
export type { BoundedFetchOptions, BoundedAnswer } from './http/fetch-bounded.js';
export { asWritError } from './middleware/denial-response.js';
export { isLoopbackAddress, isLoopbackHost } from './http/loopback-host.js';
