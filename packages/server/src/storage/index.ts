export { openStore, PG_MIGRATION_LOCK } from './open-store.js';
export type { Store, Dialect, OpenStoreOptions } from './open-store.js';
export type * from './schema.js';
