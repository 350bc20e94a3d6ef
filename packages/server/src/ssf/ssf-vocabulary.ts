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

/**
 * Writ's own event types for a killed tool (SSF admits any event type URI; CAEP has none for "this capability is
 * withdrawn from everyone"): subject the resource (`opaque`, its register id), `tool` in the payload.
 */
export const EVENT_TOOL_REVOKED = 'urn:writ:ssf:event-type:tool-revoked';
export const EVENT_TOOL_RESTORED = 'urn:writ:ssf:event-type:tool-restored';

/** What a stream may request. Verification and stream-updated are SSF control events: always delivered. */
export const EVENTS_SUPPORTED = [EVENT_SESSION_REVOKED, EVENT_TOOL_REVOKED, EVENT_TOOL_RESTORED] as const;

export const SCOPE_MANAGE = 'ssf.manage';
export const SCOPE_READ = 'ssf.read';
/**
 * Not an SSF scope: reads Writ's own revocation feed (`GET /revocation/v1/events`) for the verifier middleware — a
 * credential that can follow revocations and do nothing else, instead of an admin token.
 */
export const SCOPE_REVOCATION_FEED = 'writ.revocation_feed';
export const SSF_SCOPES = [SCOPE_MANAGE, SCOPE_READ] as const;
export const RECEIVER_SCOPES = [SCOPE_MANAGE, SCOPE_READ, SCOPE_REVOCATION_FEED] as const;
export type SsfScope = (typeof RECEIVER_SCOPES)[number];

export const STREAM_STATUSES = ['enabled', 'paused', 'disabled'] as const;
export type StreamStatus = (typeof STREAM_STATUSES)[number];

/** SSF §8.1.4: the least time between two verification requests of one stream, seconds. */
export const MIN_VERIFICATION_INTERVAL_SECONDS = 15;

/** The media type of a SET (RFC 8417 §2.3) and its `typ` header. */
export const SET_MEDIA_TYPE = 'application/secevent+jwt';
export const SET_TYP = 'secevent+jwt';
