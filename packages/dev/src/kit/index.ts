/**
 * `@writ/dev/kit` — the fixtures tests and benchmarks share: a free loopback port, pre-signed DPoP proofs, a real
 * MCP server with sessions, and the one set-up of a Writ node through its admin API (identity provider, upstream
 * secret, resource, grant, agent) with task tokens minted through the agent SDK.
 */
export { freePort } from './free-port.js';
export { makeProofFactory, proofHeaders } from './dpop-proofs.js';
export { serveMcpSessions } from './mcp-session-server.js';
export type { McpSessionServer, McpSessionServerOptions } from './mcp-session-server.js';
export { agentKeys, seedWrit, seedGrant, registerAgentKeys, writAgent, mintTasks, UPSTREAM_SECRET } from './writ-seed.js';
export type { AgentKeys } from './writ-seed.js';
export { authorizeAs } from './consenting-user.js';
export { ScriptedMcpHost } from './scripted-mcp-host.js';
export { serveClientMetadataDocument } from './client-metadata-server.js';
export { startIdJagProvider } from './id-jag-provider.js';
export type { IdJagProvider, IdJagProviderOptions } from './id-jag-provider.js';
export type { ClientMetadataServer } from './client-metadata-server.js';
export type { ConsentingUser, ConsentOptions, ConsentResult } from './consenting-user.js';
