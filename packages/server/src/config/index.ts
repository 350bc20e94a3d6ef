export { loadConfig, ConfigError, hostForUrl } from './load-config.js';
export type { WritConfig, LoadConfigOptions } from './load-config.js';
export { configSchema } from './schema.js';
export type { WritConfigInput } from './schema.js';
export { processEnvironment, adminClientSettings } from './environment.js';
export type { Environment } from './environment.js';
export { WRIT_VERSION } from './version.js';
