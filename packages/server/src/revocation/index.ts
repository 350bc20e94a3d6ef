export { RevocationService, entryFromRow, recordFromRow, toolTargetId, TOOL_KILL_EXPIRES_AT } from './revocation-service.js';
export type {
  RevocationTarget,
  ToolTarget,
  RevocationRecord,
  RevocationEntry,
  RevocationServiceDeps,
  RevocationWriteHook,
} from './revocation-service.js';
export { RevocationFeed } from './revocation-feed.js';
export type { RevocationFeedOptions, RevocationFeedSource } from './revocation-feed.js';
