/**
 * Subject identifiers (RFC 9493, with the SSF 1.0 `jwt_id` and `complex` formats) for Writ's revocation targets —
 * Writ's convention, documented in docs/shared-signals.md — and the schema that validates a subject a receiver sends.
 */
import { z } from 'zod';
import type { RevocationTarget } from '../revocation/index.js';

export type SubjectIdentifier = Record<string, unknown> & { format: string };

/** Members of a `complex` subject Writ uses; receivers that do not understand them must discard the event. */
export const CRITICAL_SUBJECT_MEMBERS = ['session', 'application', 'tenant'] as const;

/**
 * The subject of a revocation.
 *
 * @example
 * subjectIdFor({ type: 'token', jti: 'tok_1' }, 'https://writ.example.com');
 * // { format: 'jwt_id', iss: 'https://writ.example.com', jti: 'tok_1' }
 */
export function subjectIdFor(target: RevocationTarget, issuer: string): SubjectIdentifier {
  switch (target.type) {
    case 'token':
      return { format: 'jwt_id', iss: issuer, jti: target.jti };
    case 'task':
      return { format: 'complex', session: { format: 'opaque', id: target.taskId } };
    case 'agent':
      return { format: 'complex', application: { format: 'opaque', id: target.agentId } };
    case 'user':
      return { format: 'iss_sub', iss: issuer, sub: target.userId };
    case 'key':
      return { format: 'uri', uri: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${target.jkt}` };
    case 'all':
      return { format: 'complex', tenant: { format: 'uri', uri: issuer } };
    case 'tool':
      return { format: 'opaque', id: target.resourceId };
  }
}

const text = z.string().min(1).max(1000);
const simple = z.discriminatedUnion('format', [
  z.strictObject({ format: z.literal('account'), uri: text.regex(/^acct:/, 'an acct: URI') }),
  z.strictObject({ format: z.literal('email'), email: text }),
  z.strictObject({ format: z.literal('iss_sub'), iss: text, sub: text }),
  z.strictObject({ format: z.literal('opaque'), id: text }),
  z.strictObject({ format: z.literal('phone_number'), phone_number: text }),
  z.strictObject({ format: z.literal('did'), url: text }),
  z.strictObject({ format: z.literal('uri'), uri: text }),
  z.strictObject({ format: z.literal('jwt_id'), iss: text, jti: text }),
  z.strictObject({ format: z.literal('saml_assertion_id'), issuer: text, assertion_id: text }),
]);
const member = simple.optional();

/** A subject as a receiver may name it in add_subject / remove_subject (SSF §8.1.3). */
export const subjectIdentifierInput = z.union([
  simple,
  z
    .strictObject({
      format: z.literal('complex'),
      user: member,
      device: member,
      session: member,
      application: member,
      tenant: member,
      org_unit: member,
      group: member,
    })
    .refine((o) => Object.keys(o).length > 1, 'a complex subject needs at least one member'),
]);

/** Canonical JSON (sorted keys), so one subject is stored once however its members were ordered. */
export function canonicalSubject(s: unknown): string {
  if (typeof s !== 'object' || s === null) return JSON.stringify(s);
  const o = s as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalSubject(o[k])}`)
    .join(',')}}`;
}
