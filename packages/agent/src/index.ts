/**
 * @writ/agent — the agent SDK: DPoP keys and proofs (RFC 9449), private_key_jwt client assertions (RFC 7523), token
 * exchange (RFC 8693) and a DPoP `fetch`, tied together by `WritAgent`. Runtime dependencies: jose, @writ/protocol.
 */
export { generateDpopKey } from './dpop-key.js';
export type { DpopKey, DpopKeyAlg } from './dpop-key.js';
export { createDpopProof } from './dpop-proof.js';
export type { DpopProofInput } from './dpop-proof.js';
export { createClientAssertion } from './client-assertion.js';
export { createActorAssertion } from './actor-assertion.js';
export type { ActorAssertionInput } from './actor-assertion.js';
export type { ClientAssertionInput } from './client-assertion.js';
export { exchangeToken } from './token-exchange.js';
export type { ExchangeTokenOptions } from './token-exchange.js';
export { TokenExchangeError } from './token-exchange-error.js';
export { createDpopFetch } from './dpop-fetch.js';
export type { DpopFetchOptions } from './dpop-fetch.js';
export { createMcpFetch } from './mcp-fetch.js';
export type { McpFetchOptions } from './mcp-fetch.js';
export { WritAgent } from './writ-agent.js';
export type { WritAgentOptions, StartTaskOptions, Task, DelegateOptions } from './writ-agent.js';
export { TaskCompletionError } from './task-completion-error.js';
export { parseWwwAuthenticate } from './www-authenticate.js';
export type { Challenge } from './www-authenticate.js';
