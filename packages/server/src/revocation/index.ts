export { RevocationService, entryFromRow } from './revocation-service.js';
export type { RevocationTarget, RevocationRecord, RevocationEntry, RevocationServiceDeps } from './revocation-service.js';
