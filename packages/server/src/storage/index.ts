export { openStore, PG_MIGRATION_LOCK } from './open-store.js';
export { isUniqueViolation } from './errors.js';
export type { Store, Dialect, OpenStoreOptions } from './open-store.js';
export type * from './schema.js';
