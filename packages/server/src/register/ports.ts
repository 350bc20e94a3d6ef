/**
 * What the domain modules need from others, described structurally so they depend on no concrete implementation
 * (the composition root wires the real ones).
 */
export interface PolicyPort {
  validate(policyText: string): Promise<{ ok: true; policyCount: number } | { ok: false; errors: string[] }>;
  load(grants: { id: string; text: string }[]): Promise<number>;
}

/** An audit record as the domain modules produce it: the audit module's own input type, so the two cannot drift. */
export type { AuditEventInput as AuditRecord } from '../audit/index.js';
import type { AuditEventInput } from '../audit/index.js';

export interface AuditPort {
  record(event: AuditEventInput): void;
}

export type Clock = () => number;
