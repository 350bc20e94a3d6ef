/** The append-only, hash-chained audit log: record, write, verify, query. */
export { AUDIT_EVENT_TYPES, normalizeAuditEvent } from './audit-event.js';
export type { AuditEvent, AuditEventInput, AuditEventType } from './audit-event.js';
export { canonicalJson } from './canonical-json.js';
export { chainHash, GENESIS_HASH } from './audit-chain.js';
export { createAuditWriter } from './audit-writer.js';
export type { AuditWriter, AuditWriterOptions } from './audit-writer.js';
export { verifyAuditChain } from './verify-chain.js';
export type { AuditChainProblem, AuditChainResult, VerifyAuditChainOptions } from './verify-chain.js';
export { queryAudit, taskChain } from './query-audit.js';
export type { AuditEntry, AuditQuery, TaskChain, TaskChainNode } from './query-audit.js';
export type { AuditPort, AuditRecord } from './audit-port.js';
export { aggregateAnonymousDenials } from './anonymous-denials.js';
export type { AnonymousDenialOptions } from './anonymous-denials.js';
