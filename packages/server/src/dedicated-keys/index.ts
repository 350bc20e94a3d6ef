/** Keys that sign documents other than tokens (SETs, audit checkpoints), each for one purpose. */
export { DedicatedKey, dedicatedKeyEnvelopes } from './dedicated-key.js';
export type { DedicatedKeyPurpose } from './dedicated-key.js';
