/**
 * What nodes of one Writ cluster say to each other through PostgreSQL NOTIFY. Channels are database-wide while Writ's
 * tables live in a schema, so every channel name carries the schema: two Writ deployments (or two test runs) in one
 * database never hear each other. Payloads are parsed as untrusted input: a malformed one is dropped and counted, and
 * the node's next catch-up from the durable log repairs whatever it meant.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RevocationRow } from '../storage/index.js';

/** NOTIFY payloads must stay under PostgreSQL's 8000-byte limit; revocation ids are bounded far below it. */
export const MAX_PAYLOAD_BYTES = 7900;

export interface ClusterChannels {
  /** One message per durable revocation, sent in the transaction that writes it. */
  readonly revocation: string;
  /** Register, policy and signing-key changes: caches elsewhere must drop what they hold. */
  readonly change: string;
}

export function channelsFor(schema: string): ClusterChannels {
  // Identifiers are at most 63 bytes; a long schema name is represented by its digest.
  const tag = schema.length <= 40 ? schema : createHash('sha256').update(schema).digest('hex').slice(0, 40);
  return { revocation: `writ_rev_${tag}`, change: `writ_chg_${tag}` };
}

const revocationPayload = z.strictObject({
  seq: z.number().int().positive(),
  target_type: z.enum(['token', 'task', 'agent', 'user', 'key', 'all', 'tool', 'tool_lift']),
  target_id: z.string().min(1).max(1024),
  before: z.number().int().nullable(),
  expires_at: z.number().int(),
  created_at: z.number().int(),
});

/** The part of a revocation row other nodes need to enforce it (reason and operator stay in the log). */
export type RevocationNotice = z.output<typeof revocationPayload>;

export function encodeRevocation(row: RevocationRow): string {
  const notice: RevocationNotice = {
    seq: row.seq,
    target_type: row.target_type,
    target_id: row.target_id,
    before: row.before,
    expires_at: row.expires_at,
    created_at: row.created_at,
  };
  return JSON.stringify(notice);
}

export function decodeRevocation(payload: string): RevocationNotice | null {
  return parse(revocationPayload, payload);
}

export const CHANGE_KINDS = ['agent', 'resource', 'grant', 'identity_provider', 'workload_issuer', 'secret', 'signing_key'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

const changePayload = z.strictObject({
  kind: z.enum(CHANGE_KINDS),
  id: z.string().min(1).max(1024),
  /** The node that made the change: it already applied it and ignores its own message. */
  node: z.string().min(1).max(200),
});

export type ChangeNotice = z.output<typeof changePayload>;

export function encodeChange(c: ChangeNotice): string {
  return JSON.stringify(c);
}

export function decodeChange(payload: string): ChangeNotice | null {
  return parse(changePayload, payload);
}

function parse<T>(schema: z.ZodType<T>, payload: string): T | null {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return null;
  }
  const r = schema.safeParse(v);
  return r.success ? r.data : null;
}
