/**
 * What a module that leaves audit records needs: one method, taking the audit module's own input type, so that a
 * record and the writer cannot drift apart. The composition root hands every module the real writer; tests can hand
 * them anything with `record`.
 */
import type { AuditEventInput } from './audit-event.js';

export type AuditRecord = AuditEventInput;

export interface AuditPort {
  record(event: AuditRecord): void;
}
