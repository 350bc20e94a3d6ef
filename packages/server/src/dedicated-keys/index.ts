/** Keys that sign documents other than tokens (SETs, audit checkpoints), each for one purpose. */
export { DedicatedKey } from './dedicated-key.js';
export type { DedicatedKeyPurpose } from './dedicated-key.js';
