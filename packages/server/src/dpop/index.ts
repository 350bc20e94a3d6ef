export { SharedReplayCache } from './shared-replay-cache.js';
