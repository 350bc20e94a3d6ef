/** Where the audit goes besides the database: checkpoints pushed out, and the log streamed to SIEMs (OCSF). */
export { AuditStreamer } from './audit-streamer.js';
export type { AuditSinkConfig, AuditStreamerDeps } from './audit-streamer.js';
export { checkpointPublisher } from './checkpoint-publisher.js';
export type { CheckpointSinks } from './checkpoint-publisher.js';
export { postWithRetry } from './post-with-retry.js';
export type { PostOutcome } from './post-with-retry.js';
