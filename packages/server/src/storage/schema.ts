/**
 * Table types for Kysely. Portable across SQLite and PostgreSQL by construction: times are epoch milliseconds
 * (BIGINT in PostgreSQL, parsed to number), booleans are 0/1 integers, structured values are JSON text.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type {
  OAuthClientsTable,
  OAuthRequestsTable,
  OAuthLoginsTable,
  OAuthSessionsTable,
  OAuthCodesTable,
  OAuthRefreshTokensTable,
  OAuthConsentsTable,
} from './schema-authorization.js';
import type { SsfReceiversTable, SsfStreamsTable, SsfSubjectsTable, SsfEventsTable } from './schema-ssf.js';

export type * from './schema-authorization.js';
export type * from './schema-ssf.js';

export interface AgentsTable {
  id: string;
  name: string;
  owner: string;
  /** `oauth_client`: a stock OAuth/MCP client that registered itself (metadata document or RFC 7591). */
  kind: 'agent' | 'service_account' | 'workload' | 'oauth_client';
  /** `pending`: a self-registered client waiting for an operator (authorization.registration.newClientStatus). */
  status: 'active' | 'pending' | 'suspended' | 'offboarded';
  /** Public JWKS (JSON) for private_key_jwt; `{"keys":[]}` for an agent that authenticates by workload identity only. */
  jwks: string;
  /** Workload-identity bindings (JSON array of `{ issuer, subject }`): workload issuer id and subject pattern. */
  workload: Generated<string>;
  description: string;
  created_at: number;
  updated_at: number;
  /** The registration ends here (epoch ms): the agent is refused from then on. */
  expires_at: number | null;
  /** Its owner should confirm it is still needed by then (epoch ms). */
  review_by: number | null;
  /** The last token it obtained or call it made, as of the last batch written (epoch ms). */
  last_used_at: number | null;
  /** When its owner's user revocation flagged (or suspended) it (epoch ms). */
  owner_offboarded_at: number | null;
  /** When the passing of `expires_at` was last enforced by revoking every token the agent held (epoch ms). */
  expiry_enforced_at: number | null;
}

export interface IdentityProvidersTable {
  id: string;
  issuer: string;
  jwks_uri: string | null;
  /** Audience the provider's tokens must carry to be accepted as subject tokens. */
  audience: string;
  /** 1 when the JWKS URL comes from OIDC discovery. */
  discovery: number;
  /** Accepted `subject_token_type` URIs (JSON array); null: every JWT type Writ knows. */
  token_types: string | null;
  created_at: number;
  updated_at: number;
}

export interface WorkloadIssuersTable {
  id: string;
  kind: 'kubernetes' | 'spiffe' | 'oidc';
  /** Compared with the workload token's `iss` exactly. */
  issuer: string;
  jwks_uri: string | null;
  /** 1 when the JWKS URL comes from OIDC discovery. */
  discovery: number;
  /** A static JWKS (JSON), e.g. a SPIFFE trust bundle's JWT authorities; null when fetched. */
  jwks: string | null;
  /** What the workload token's `aud` must contain. */
  audience: string;
  created_at: number;
  updated_at: number;
}

export interface DpopReplayTable {
  /** SHA-256 of the proof's jti and target URI (see @writ/verify). */
  key: string;
  expires_at: number;
}

export interface ResourcesTable {
  id: string;
  /** `http`: an HTTP API at base_url; `mcp`: an MCP server whose Streamable HTTP endpoint is base_url. */
  kind: 'http' | 'mcp';
  base_url: string;
  secret_id: string | null;
  /** Injection rule (JSON): { mode: header|bearer|basic|query, name?, prefix?, username? }. */
  inject: string | null;
  /** Scopes (JSON): { [scope name]: authorization details without locations }; null when the resource has none. */
  scopes: string | null;
  /** MCP upstreams and bearer acceptance (JSON, `McpResourceConfig`); null: an MCP server at base_url, DPoP only. */
  mcp: string | null;
  description: string;
  created_at: number;
  updated_at: number;
}

export interface SecretsTable {
  id: string;
  /** `static` or a minted kind (vault/secret-kinds.ts); what the sealed value is. */
  kind: Generated<string>;
  /** The kind's settings that are not secret (JSON), null for `static`. */
  config: string | null;
  current_version: number;
  description: string;
  created_at: number;
  updated_at: number;
}

/** A person's connected account at an upstream (a `user_oauth` secret): their refresh token, sealed. */
export interface UpstreamConnectionsTable {
  secret_id: string;
  user_id: string;
  /** `active`; `revoked` (by the user, an operator or a revocation of the user); `lapsed` (the upstream refused a refresh). */
  status: 'active' | 'revoked' | 'lapsed';
  /** Envelope of the refresh token (AAD `connection:<secret>:<user>`); null once revoked. */
  refresh_envelope: string | null;
  scope: string | null;
  created_at: number;
  updated_at: number;
}

/** A connect in progress: bound to the secret, the user and their sign-in session. */
export interface UpstreamConnectStatesTable {
  state_hash: string;
  secret_id: string;
  user_id: string;
  session_hash: string;
  code_verifier: string;
  expires_at: number;
}

export interface SecretVersionsTable {
  secret_id: string;
  version: number;
  kek_id: string;
  /** Envelope (JSON): wrapped data key and ciphertext, each AES-256-GCM with its own IV and tag. */
  envelope: string;
  created_at: number;
}

export interface GrantsTable {
  id: string;
  description: string;
  policy: string;
  enabled: number;
  /** `observe`: evaluated beside the enforced set on live traffic, never changing an answer. */
  mode: Generated<'enforce' | 'observe'>;
  created_at: number;
  updated_at: number;
}

export interface TasksTable {
  id: string;
  parent_id: string | null;
  /** Ancestor task ids, root first (JSON array). */
  chain: string;
  user_id: string;
  agent_id: string;
  resource_id: string;
  purpose: string;
  authorization_details: string;
  status: 'active' | 'completed' | 'revoked' | 'expired';
  created_at: number;
  expires_at: number;
  ended_at: number | null;
  end_reason: string | null;
}

export interface TokensTable {
  jti: string;
  task_id: string;
  agent_id: string;
  user_id: string;
  jkt: string;
  audience: string;
  issued_at: number;
  expires_at: number;
}

export interface ClientAssertionsTable {
  /** `${client_id} ${jti}` — RFC 7523 §3 item 7: a jti is single use per issuer. */
  key: string;
  expires_at: number;
}

export interface RevocationsTable {
  seq: Generated<number>;
  /** `tool_lift` lifts the `tool` kill with the same `target_id` (`<resource id>/<tool or action>`). */
  target_type: 'token' | 'task' | 'agent' | 'user' | 'key' | 'all' | 'tool' | 'tool_lift';
  target_id: string;
  /** Tokens issued at or before this epoch second are dead (agent, user, key, all). */
  before: number | null;
  /** After this epoch second no token the entry could hit is still valid; the entry may then be pruned. */
  expires_at: number;
  reason: string;
  actor: string;
  created_at: number;
}

export interface AuditEventsTable {
  seq: number;
  id: string;
  time: number;
  type: string;
  trace_id: string | null;
  task_id: string | null;
  agent_id: string | null;
  user_id: string | null;
  decision: string | null;
  reason: string | null;
  /** Canonical JSON of the whole event; the hash covers this. */
  body: string;
  prev_hash: string;
  hash: string;
}

/** A signed audit chain head: `jws` is the compact JWS over `{iss, iat, seq, hash, time}`. */
export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  time: number;
  kid: string;
  jws: string;
}

/** The SQLite audit writer's write-ahead journal: records committed, not yet chained (`row` is the AuditRow as JSON). */
export interface AuditJournalTable {
  id: string;
  n: number;
  row: string;
  /** The worker slot that wrote it (`writ serve --workers`); empty for a single process. */
  owner: Generated<string>;
}

/** How far each audit sink has delivered: the last seq it has. */
export interface AuditSinkCursorsTable {
  name: string;
  seq: number;
  updated_at: number;
}

export interface AdminTokensTable {
  id: string;
  name: string;
  /** SHA-256 (hex) of the token: tokens are 256-bit random, so a fast hash is the right tool. */
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  /** Private JWK sealed with the vault's envelope encryption. */
  private_envelope: string;
  status: 'active' | 'retired';
  created_at: number;
  /** When the key stops being published (epoch ms); null while active. */
  retire_at: number | null;
}

/** The SET signing key of the Shared Signals transmitter (never a token-signing key). */
/** Keys that sign something other than tokens (dedicated-keys/): the SET key, the audit checkpoint key. */
export interface DedicatedKeysTable {
  kid: string;
  /** `set`, `audit-checkpoint`: one key per purpose, created once even when several nodes start together. */
  purpose: string;
  public_jwk: string;
  /** Private JWK sealed with the vault's envelope encryption. */
  private_envelope: string;
  created_at: number;
}

export interface Database {
  agents: AgentsTable;
  identity_providers: IdentityProvidersTable;
  workload_issuers: WorkloadIssuersTable;
  dpop_replay: DpopReplayTable;
  resources: ResourcesTable;
  secrets: SecretsTable;
  secret_versions: SecretVersionsTable;
  grants: GrantsTable;
  tasks: TasksTable;
  tokens: TokensTable;
  client_assertions: ClientAssertionsTable;
  revocations: RevocationsTable;
  audit_events: AuditEventsTable;
  admin_tokens: AdminTokensTable;
  signing_keys: SigningKeysTable;
  dedicated_keys: DedicatedKeysTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_sink_cursors: AuditSinkCursorsTable;
  audit_journal: AuditJournalTable;
  upstream_connections: UpstreamConnectionsTable;
  upstream_connect_states: UpstreamConnectStatesTable;
  ssf_receivers: SsfReceiversTable;
  ssf_streams: SsfStreamsTable;
  ssf_subjects: SsfSubjectsTable;
  ssf_events: SsfEventsTable;
  oauth_clients: OAuthClientsTable;
  oauth_requests: OAuthRequestsTable;
  oauth_logins: OAuthLoginsTable;
  oauth_sessions: OAuthSessionsTable;
  oauth_codes: OAuthCodesTable;
  oauth_refresh_tokens: OAuthRefreshTokensTable;
  oauth_consents: OAuthConsentsTable;
  approvals: ApprovalsTable;
  budget_counters: BudgetCountersTable;
  tool_schemas: ToolSchemasTable;
  console_sessions: ConsoleSessionsTable;
  console_links: ConsoleLinksTable;
  cluster_nodes: ClusterNodesTable;
}

/** The input schema of an MCP tool that a grant's argument conditions name, as its upstream listed it (policy/tool-arguments.ts). */
export interface ToolSchemasTable {
  resource_id: string;
  tool: string;
  /** JSON. */
  input_schema: string;
  recorded_at: number;
}

/** Budgets and rate limits shared by every node (budgets/). */
export interface BudgetCountersTable {
  key: string;
  /** Epoch ms the window starts at; 0 for a count without a window (a task's calls in all, or per action). */
  window_start: number;
  used: number;
  /** The limit the count was taken against. */
  cap: number;
  /** After this (epoch ms) the counter can no longer matter and is pruned. */
  expires_at: number;
}

/** A call a grant's `@approval` held back, and its decision (approvals/). */
export interface ApprovalsTable {
  /** `apr_…`, unguessable: the poll URL names it. */
  id: string;
  task_id: string;
  agent_id: string;
  user_id: string;
  resource_id: string;
  /**
   * HMAC-SHA256 of the canonical call (task, resource, action, target, arguments) under a key derived from the KEK:
   * what the approval is good for. Rows stored before migration 0024 hold a plain SHA-256 until sealed at start.
   */
  call_digest: string;
  /** The call as the approver sees it (JSON): resource, action, target, the task's chain; `arguments` null once sealed. */
  call: string;
  /** The call's arguments sealed with the KEK (AAD `approval:<id>`); null only on a row not yet sealed. */
  arguments_envelope: string | null;
  /** JSON array of approver specs (`user`, `owner`, `admin`, `group:<name>`). */
  approvers: string;
  /** JSON array of the policy ids that asked for the approval. */
  policies: string;
  /** `expired`: a pending approval given up before its time, once another of the same call took its place. */
  status: 'pending' | 'approved' | 'denied' | 'expired';
  created_at: number;
  /** Pending: until a decision is due; approved: until the call must be made again. */
  expires_at: number;
  decided_at: number | null;
  decided_by: string | null;
  reason: string | null;
  /** When the approved call went through (an approval is good once). */
  used_at: number | null;
}

export type AgentRow = Selectable<AgentsTable>;
export type NewAgentRow = Insertable<AgentsTable>;
export type AgentUpdate = Updateable<AgentsTable>;
export type IdentityProviderRow = Selectable<IdentityProvidersTable>;
export type WorkloadIssuerRow = Selectable<WorkloadIssuersTable>;
export type ResourceRow = Selectable<ResourcesTable>;
export type SecretRow = Selectable<SecretsTable>;
export type SecretVersionRow = Selectable<SecretVersionsTable>;
export type GrantRow = Selectable<GrantsTable>;
export type TaskRow = Selectable<TasksTable>;
export type TokenRow = Selectable<TokensTable>;
export type RevocationRow = Selectable<RevocationsTable>;
export type ApprovalRow = Selectable<ApprovalsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type AdminTokenRow = Selectable<AdminTokensTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;

/** A console session (console/): the cookie's digest, who it is, the role they hold, its idle and absolute ends. */
export interface ConsoleSessionsTable {
  id_hash: string;
  /** The person's Writ user id (`<provider>:<sub>`), or the admin token's id for a one-time link. */
  subject: string;
  kind: 'person' | 'admin-token';
  display_name: string;
  role: 'admin' | 'read-only';
  created_at: number;
  last_seen_at: number;
  /** The absolute end; the idle end is `last_seen_at` plus the configured idle time. */
  expires_at: number;
}

/** A one-time console sign-in link made with an admin token (`writ dev` signs its admin in with one). */
export interface ConsoleLinksTable {
  code_hash: string;
  /** The admin token's id. */
  subject: string;
  display_name: string;
  expires_at: number;
}

/** A cluster node's revocation freshness as it last reported it (cluster/node-reports.ts). */
export interface ClusterNodesTable {
  node_id: string;
  role: string;
  state: string;
  lag_ms: number | null;
  last_seq: number;
  log_seq: number;
  reported_at: number;
}
