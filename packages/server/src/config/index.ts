export { loadConfig, ConfigError, hostForUrl } from './load-config.js';
export type { WritConfig, LoadConfigOptions } from './load-config.js';
export { configSchema } from './schema.js';
export type { WritConfigInput } from './schema.js';
