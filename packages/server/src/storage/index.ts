export { openStore } from './open-store.js';
export type { Store, Dialect, OpenStoreOptions } from './open-store.js';
export type * from './schema.js';
