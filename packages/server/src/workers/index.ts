/** Several event loops on one port (`writ serve --workers N`), with the guarantees of one. */
export { SiblingBus } from './sibling-bus.js';
export type { SiblingChannel } from './sibling-bus.js';
export { startPrimary } from './primary.js';
export type { Primary, PrimaryOptions } from './primary.js';
export { WORKER_COUNT_ENV, WORKER_FIRST_ENV, WORKER_SLOT_ENV } from './sibling-messages.js';
export type { SiblingEvent } from './sibling-messages.js';
export { SessionRelay } from './session-relay.js';
