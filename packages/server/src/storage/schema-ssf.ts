/**
 * Table types for Kysely (schema.ts): the Shared Signals transmitter's tables — receivers, streams, subjects and the
 * outbox of events (ssf/).
 */
import type { Generated, Selectable } from 'kysely';

export interface SsfReceiversTable {
  id: string;
  name: string;
  /** The `aud` of every SET on this receiver's streams. */
  audience: string;
  /** Granted OAuth scopes (JSON array of `ssf.manage`, `ssf.read`). */
  scopes: string;
  /** SHA-256 (hex) of the receiver's bearer token. */
  token_hash: string;
  created_at: number;
}

export interface SsfStreamsTable {
  id: string;
  receiver_id: string;
  /** JSON array of event-type URIs. */
  events_requested: string;
  delivery_method: 'urn:ietf:rfc:8935' | 'urn:ietf:rfc:8936';
  /** Push: the receiver's endpoint; null for poll (the endpoint is Writ's own). */
  endpoint_url: string | null;
  /** Push: the `Authorization` value to send, sealed with the vault's envelope encryption. */
  authorization_envelope: string | null;
  description: string | null;
  status: 'enabled' | 'paused' | 'disabled';
  status_reason: string | null;
  last_verification_at: number | null;
  /** Which node's push worker holds this stream, until when (epoch ms): one deliverer per stream, in order. */
  lease_owner: string | null;
  leased_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface SsfSubjectsTable {
  stream_id: string;
  /** The subject identifier (RFC 9493) as canonical JSON. */
  subject: string;
  verified: number;
  created_at: number;
}

export interface SsfEventsTable {
  seq: Generated<number>;
  stream_id: string;
  jti: string;
  event_type: string;
  /** 1 for SSF control events (verification, stream-updated): delivered whatever the stream's status. */
  control: number;
  /** The signed SET, exactly as delivered (a retry sends the same bytes). */
  set_jwt: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: number;
  /** Push: the receiver's `err` (permanent) or the last transient failure; poll: the receiver's `setErrs` entry. */
  last_error: string | null;
  created_at: number;
  done_at: number | null;
}

export type SsfReceiverRow = Selectable<SsfReceiversTable>;
export type SsfStreamRow = Selectable<SsfStreamsTable>;
export type SsfEventRow = Selectable<SsfEventsTable>;
