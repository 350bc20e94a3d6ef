export { openStore, PG_MIGRATION_LOCK } from './open-store.js';
export { isUniqueViolation } from './errors.js';
export type { Store, OpenStoreOptions, DedicatedOptions, SqliteSynchronous } from './open-store.js';
export { dialectOf, type Dialect } from './dialect.js';
export type * from './schema.js';
