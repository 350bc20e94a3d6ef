export { RevocationService, entryFromRow, recordFromRow } from './revocation-service.js';
export type {
  RevocationTarget,
  RevocationRecord,
  RevocationEntry,
  RevocationServiceDeps,
  RevocationWriteHook,
} from './revocation-service.js';
export { RevocationFeed } from './revocation-feed.js';
export type { RevocationFeedOptions, RevocationFeedSource } from './revocation-feed.js';
