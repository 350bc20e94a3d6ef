/** Fixed HTTP paths of Writ's interfaces (docs/interfaces.md), shared by the server and the SDKs. */
export const PATHS = {
  token: '/oauth2/token',
  introspect: '/oauth2/introspect',
  revoke: '/oauth2/revoke',
  /** Authorization server for stock OAuth/MCP clients: the authorization endpoint (code + PKCE S256). */
  authorize: '/oauth2/authorize',
  /** Dynamic Client Registration (RFC 7591). */
  register: '/oauth2/register',
  /** Where the organisation's identity provider sends the user back after signing in (Writ as OpenID relying party). */
  loginCallback: '/oauth2/callback',
  /** The consent page (GET) and its form (POST). */
  consent: '/oauth2/consent',
  jwks: '/.well-known/jwks.json',
  asMetadata: '/.well-known/oauth-authorization-server',
  protectedResourceMetadata: '/.well-known/oauth-protected-resource',
  /** Agent API: an agent ends its own task with its task token (DPoP-authenticated). */
  taskComplete: '/agent/v1/task/complete',
  /** Server-sent events of the revocation log, for Writ's verifier middleware (catch-up by Last-Event-ID). */
  revocationFeed: '/revocation/v1/events',
  httpResourcePrefix: '/r/',
  mcpResourcePrefix: '/mcp/',
  admin: '/admin/v1',
  openapi: '/admin/v1/openapi.json',
  healthz: '/healthz',
  readyz: '/readyz',
  /** Prometheus metrics (text exposition format). */
  metrics: '/metrics',
  /** Shared Signals Framework 1.0 transmitter metadata (SSF §7.1). */
  ssfConfiguration: '/.well-known/ssf-configuration',
  /** SSF stream management (SSF §8.1): configuration, status, subjects, verification. */
  ssfStreams: '/ssf/v1/streams',
  ssfStatus: '/ssf/v1/status',
  ssfAddSubject: '/ssf/v1/subjects/add',
  ssfRemoveSubject: '/ssf/v1/subjects/remove',
  ssfVerification: '/ssf/v1/verify',
  /** RFC 8936 poll endpoint of one stream: `{ssfPollPrefix}{stream_id}`. */
  ssfPollPrefix: '/ssf/v1/poll/',
  /** How a call-bound approval stands (`GET {approvalStatusPrefix}{id}`): what an agent held back polls. */
  approvalStatusPrefix: '/approvals/v1/',
  /** The page where an approver sees the held-back call and approves or denies it (`{approvalPagePrefix}{id}`). */
  approvalPagePrefix: '/oauth2/approvals/',
} as const;

/** Default port of `writ dev` and `writ serve`. */
export const DEFAULT_PORT = 7420;

/**
 * Key ids of Writ's Security Event Token key (Shared Signals) start with this; token-signing kids are bare JWK
 * thumbprints. Both keys are in one JWKS, so a verifier of task tokens skips this prefix: the SET key signs SETs only.
 */
export const SET_KID_PREFIX = 'set-';

/** Key ids of Writ's audit checkpoint key start with this: it signs checkpoints of the audit chain only. */
export const AUDIT_CHECKPOINT_KID_PREFIX = 'audit-';

/**
 * Key ids of the key Writ signs its assertions to upstream authorization servers with (the subject token of a
 * `token_exchange` secret, naming the user and the agent) start with this: it signs those assertions only.
 */
export const UPSTREAM_ASSERTION_KID_PREFIX = 'upstream-';

/** Every key in Writ's JWKS that is not a token-signing key: a verifier of task tokens skips these. */
export const NON_TOKEN_KID_PREFIXES: readonly string[] = [SET_KID_PREFIX, AUDIT_CHECKPOINT_KID_PREFIX, UPSTREAM_ASSERTION_KID_PREFIX];
