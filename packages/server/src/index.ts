/**
 * @writ/server — embed or drive a Writ server from code (the `writ` CLI is the usual way in).
 *
 * @example
 * const config = loadConfig({ env: process.env });
 * const writ = await startWritServer({ config, logger: createLogger({ level: 'info' }) });
 * // … later
 * await writ.close();
 */
export { startWritServer } from './server/index.js';
export type { WritServer, StartOptions } from './server/index.js';
export { loadConfig, ConfigError } from './config/index.js';
export type { WritConfig, LoadConfigOptions } from './config/index.js';
export { createLogger, silentLogger } from './observability/index.js';
export type { Logger } from './observability/index.js';
export { AdminClient, AdminClientError, printAuditChain } from './admin-client/index.js';
export type { ChainEvent } from './admin-client/index.js';
