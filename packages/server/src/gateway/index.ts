export { HttpGateway } from './http/http-gateway.js';
export type { HttpGatewayDeps } from './http/http-gateway.js';
export { CallEnforcer } from './enforce-call.js';
export type { EnforcementDeps, Caller } from './enforce-call.js';
export { createGatewayAudit, actorChain } from './gateway-audit.js';
export type { GatewayAudit, CallAuditEvent } from './gateway-audit.js';
export { McpGateway, UpstreamFactory } from './mcp/index.js';
export type { McpGatewayDeps, UpstreamFactoryDeps } from './mcp/index.js';
