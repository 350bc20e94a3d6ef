export { McpGateway, type McpGatewayDeps } from './mcp-gateway.js';
export { SESSION_PROTOCOL_VERSIONS, MODERN_VERSION } from './sessionless.js';
export { UpstreamFactory, type UpstreamFactoryDeps } from './upstream-factory.js';
export { ToolCatalogue, type ToolCatalogueDeps, type CatalogueTool } from './tool-catalogue.js';
