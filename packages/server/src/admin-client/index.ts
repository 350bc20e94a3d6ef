/** A client of the admin API for scripts, the CLI and the dev demo (HTTP only: it never touches the store). */
export { AdminClient, AdminClientError } from './admin-client.js';
export { printAuditChain } from './format-audit-chain.js';
export type { ChainEvent } from './format-audit-chain.js';
