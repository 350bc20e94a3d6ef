/**
 * OAuth 2.0 vocabulary Writ speaks on the wire: grant, token-type and assertion URNs (RFC 8693 §3, RFC 7523),
 * token_type values (RFC 9449) and the error codes of RFC 6749 §5.2, RFC 6750 §3.1, RFC 8693 §2.2.2,
 * RFC 8707 §2, RFC 9396 §5 and RFC 9449 §5/§7.1.
 */
import type { TaskAuthorizationDetail } from './authorization-details.js';

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange' as const;

/** Every grant type the token endpoint accepts (RFC 6749 §4.1 and §6, RFC 8693, RFC 7523 for ID-JAG). */
export const GRANT_TYPE = {
  authorizationCode: 'authorization_code',
  refreshToken: 'refresh_token',
  tokenExchange: GRANT_TYPE_TOKEN_EXCHANGE,
  jwtBearer: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
} as const;

/** The Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant). */
export const ID_JAG = {
  tokenType: 'urn:ietf:params:oauth:token-type:id-jag',
  typ: 'oauth-id-jag+jwt',
  grantProfile: 'urn:ietf:params:oauth:grant-profile:id-jag',
} as const;

export const TOKEN_TYPE = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  refreshToken: 'urn:ietf:params:oauth:token-type:refresh_token',
} as const;
export type TokenTypeUri = (typeof TOKEN_TYPE)[keyof typeof TOKEN_TYPE];

export const CLIENT_ASSERTION_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' as const;

/** `typ` header values Writ issues or checks. */
export const JWT_TYP = {
  accessToken: 'at+jwt',
  accessTokenMedia: 'application/at+jwt',
  dpopProof: 'dpop+jwt',
} as const;

/** Signature algorithms Writ accepts for DPoP proofs and issues task tokens with (asymmetric only, RFC 9449 §4.3). */
export const DPOP_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
export type DpopAlg = (typeof DPOP_ALGS)[number];
export const TOKEN_SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;
export type TokenSigningAlg = (typeof TOKEN_SIGNING_ALGS)[number];

/** Error codes of the token endpoint (RFC 6749 §5.2 + RFC 8693 + RFC 8707 + RFC 9396 + RFC 9449). */
export const OAUTH_TOKEN_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_authorization_details',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'unsupported_token_type',
  'server_error',
  'temporarily_unavailable',
] as const;
export type OAuthTokenErrorCode = (typeof OAUTH_TOKEN_ERRORS)[number];

/** Error codes of a protected resource's `WWW-Authenticate` challenge (RFC 6750 §3.1 + RFC 9449 §7.1). */
export const RESOURCE_ERRORS = ['invalid_request', 'invalid_token', 'insufficient_scope', 'invalid_dpop_proof', 'use_dpop_nonce'] as const;
export type ResourceErrorCode = (typeof RESOURCE_ERRORS)[number];

/** The RFC 8693 §2.2.1 / RFC 9449 §5 successful token response. */
export interface TokenExchangeResponse {
  access_token: string;
  issued_token_type: typeof TOKEN_TYPE.accessToken;
  /** `DPoP` for every token the agent SDK gets; `Bearer` only without a proof, at an MCP resource that allows it. */
  token_type: 'DPoP' | 'Bearer';
  expires_in: number;
  scope?: string;
  authorization_details: TaskAuthorizationDetail[];
  /** Writ extension: the task this token belongs to. */
  task_id: string;
}
