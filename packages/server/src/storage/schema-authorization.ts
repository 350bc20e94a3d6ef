/**
 * Table types for Kysely (schema.ts): the authorization server's tables — stock OAuth clients, requests, sign-ins,
 * sessions, codes, refresh tokens and remembered consents (authorization/).
 */
import type { Selectable } from 'kysely';

/** A stock OAuth client: `client_id` (a metadata-document URL, or an id Writ gave at registration) → its agent. */
export interface OAuthClientsTable {
  client_id: string;
  agent_id: string;
  source: 'metadata_document' | 'registration';
  client_name: string;
  /** JSON array of the registered redirect URIs. */
  redirect_uris: string;
  /** The client's metadata as registered or fetched (JSON), for operators. */
  metadata: string;
  /** When a metadata document was last fetched (its cache age); the registration time otherwise. */
  fetched_at: number;
  created_at: number;
}

/** An authorization request between `/oauth2/authorize` and the consent decision (validated, not yet decided). */
export interface OAuthRequestsTable {
  id: string;
  client_id: string;
  redirect_uri: string;
  state: string | null;
  code_challenge: string;
  resource_id: string;
  resource_uri: string;
  scope: string;
  dpop_jkt: string | null;
  created_at: number;
  expires_at: number;
}

/** A sign-in at the identity provider in progress: its `state` (digest), PKCE verifier and `nonce`. */
export interface OAuthLoginsTable {
  state_hash: string;
  request_id: string;
  code_verifier: string;
  nonce: string;
  /** The digest of the cookie that binds the sign-in to the browser that started it; null only for rows from before. */
  browser_hash: string | null;
  expires_at: number;
}

export interface OAuthSessionsTable {
  id_hash: string;
  user_id: string;
  /** The ID token claims grants read (JSON). */
  claims: string;
  created_at: number;
  expires_at: number;
}

export interface OAuthCodesTable {
  code_hash: string;
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  resource_uri: string;
  dpop_jkt: string | null;
  /** The task consent created; redeeming the code issues its first token, replaying it ends the task. */
  task_id: string;
  user_id: string;
  /** The user's claims grants read (JSON), carried into every token of the task. */
  user_claims: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface OAuthRefreshTokensTable {
  token_hash: string;
  /** Every rotation of one authorization shares it; reuse of a rotated token revokes the whole family. */
  family_id: string;
  task_id: string;
  client_id: string;
  /** The DPoP key the family is bound to (RFC 9449 §5), or null for a bearer client. */
  jkt: string | null;
  /** The user's claims grants read (JSON), carried into every token of the task. */
  user_claims: string;
  family_created_at: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

export interface OAuthConsentsTable {
  id: string;
  user_id: string;
  client_id: string;
  agent_id: string;
  resource_id: string;
  /** What the user consented to (JSON authorization details). */
  authorization_details: string;
  duration_seconds: number;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export type OAuthClientRow = Selectable<OAuthClientsTable>;
export type OAuthRequestRow = Selectable<OAuthRequestsTable>;
export type OAuthCodeRow = Selectable<OAuthCodesTable>;
export type OAuthRefreshTokenRow = Selectable<OAuthRefreshTokensTable>;
export type OAuthConsentRow = Selectable<OAuthConsentsTable>;
