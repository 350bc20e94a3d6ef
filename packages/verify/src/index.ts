/**
 * @writ/verify — what a service needs to enforce Writ task tokens itself, exactly as Writ's gateway does: the
 * verifier (task token, DPoP proof, key binding, revocation through Writ's feed, fail closed) with its denial shape,
 * and the checks of what a call may do on the canonical path. Framework adapters are subpaths
 * (`@writ/verify/fastify`, `/express`, `/hono`). The building blocks Writ's own server uses are on
 * `@writ/verify/internal`, which is not a public API.
 *
 * @example
 * const verifier = createWritVerifier({ issuer, audience, feedToken });
 * const { claims } = await verifier.verify({ method, url: publicRequestUrl(publicUrl, req.url), headers: req.rawHeaders });
 * const path = normalizeRequestPath(relativePath);
 * if (!matchAuthorizationDetails(claims.authorization_details, { resource: audience, method, path })) deny();
 */
export { createWritVerifier, publicRequestUrl } from './middleware/create-writ-verifier.js';
export type { WritVerifier, WritVerifierOptions, WritVerifierState, VerifierRequest } from './middleware/create-writ-verifier.js';
export { denialResponse } from './middleware/denial-response.js';
export type { DenialResponse, DenialResponseOptions } from './middleware/denial-response.js';
export type { WritAdapterOptions } from './middleware/adapter-options.js';
export type { RawHeaders } from './http/header-values.js';
export { normalizeRequestPath, MAX_PATH_LENGTH } from './path/normalize-request-path.js';
export { matchAuthorizationDetails } from './authorization/match-authorization-details.js';
export type { HttpCall } from './authorization/match-authorization-details.js';
export {
  matchMcpToolCall,
  matchMcpPromptGet,
  mcpToolPermitted,
  mcpPromptPermitted,
  mcpResourcePermitted,
} from './authorization/match-mcp-tool-call.js';
export type { McpToolCall } from './authorization/match-mcp-tool-call.js';
