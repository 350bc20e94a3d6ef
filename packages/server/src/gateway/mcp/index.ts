export { McpGateway, SESSION_PROTOCOL_VERSIONS, type McpGatewayDeps } from './mcp-gateway.js';
export { UpstreamFactory, type UpstreamFactoryDeps } from './upstream-factory.js';
