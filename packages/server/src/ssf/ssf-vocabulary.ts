/**
 * The Shared Signals vocabulary Writ speaks, spelled exactly as the specifications do: SSF 1.0 event types and
 * delivery methods (§6, §10), the CAEP 1.0 event Writ emits, and the OAuth scopes of the CAEP interoperability profile.
 */
export const SSF_SPEC_VERSION = '1_0';

export const DELIVERY_PUSH = 'urn:ietf:rfc:8935';
export const DELIVERY_POLL = 'urn:ietf:rfc:8936';
export const DELIVERY_METHODS = [DELIVERY_PUSH, DELIVERY_POLL] as const;
export type DeliveryMethod = (typeof DELIVERY_METHODS)[number];

export const EVENT_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const EVENT_VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
export const EVENT_STREAM_UPDATED = 'https://schemas.openid.net/secevent/ssf/event-type/stream-updated';

/** What a stream may request. Verification and stream-updated are SSF control events: always delivered. */
export const EVENTS_SUPPORTED = [EVENT_SESSION_REVOKED] as const;

export const SCOPE_MANAGE = 'ssf.manage';
export const SCOPE_READ = 'ssf.read';
export const SSF_SCOPES = [SCOPE_MANAGE, SCOPE_READ] as const;
export type SsfScope = (typeof SSF_SCOPES)[number];

export const STREAM_STATUSES = ['enabled', 'paused', 'disabled'] as const;
export type StreamStatus = (typeof STREAM_STATUSES)[number];

/** SSF §8.1.4: the least time between two verification requests of one stream, seconds. */
export const MIN_VERIFICATION_INTERVAL_SECONDS = 15;

/** The media type of a SET (RFC 8417 §2.3) and its `typ` header. */
export const SET_MEDIA_TYPE = 'application/secevent+jwt';
export const SET_TYP = 'secevent+jwt';
