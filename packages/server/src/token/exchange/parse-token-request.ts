/**
 * RFC 8693 §2.1 request parsing with an allow-list of parameters. RFC 6749 §3.2: parameters must not repeat
 * (except `resource`/`audience`, which RFC 8693 lets repeat — Writ issues for exactly one resource, so it refuses
 * more than one with `invalid_target`). Unknown parameters are ignored, as RFC 6749 §3.2 requires.
 */
import { GRANT_TYPE_TOKEN_EXCHANGE } from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';

const SINGLE = [
  'grant_type',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'scope',
  'authorization_details',
  'purpose',
  'client_id',
  'client_assertion',
  'client_assertion_type',
  'dpop_jkt',
] as const;

export type TokenRequestParams = { [K in (typeof SINGLE)[number]]?: string } & { resource: string[]; audience: string[] };

export function parseTokenRequest(body: URLSearchParams): TokenRequestParams {
  const params = { resource: body.getAll('resource'), audience: body.getAll('audience') } as TokenRequestParams;
  for (const name of SINGLE) {
    const values = body.getAll(name);
    if (values.length > 1) throw new OAuthError('invalid_request', `parameter ${name} repeated`);
    const v = values[0];
    if (v !== undefined && v !== '') params[name] = v;
  }
  if (params.grant_type === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
  if (params.grant_type !== GRANT_TYPE_TOKEN_EXCHANGE)
    throw new OAuthError('unsupported_grant_type', 'only token exchange (RFC 8693) is supported');
  if (params.subject_token === undefined) throw new OAuthError('invalid_request', 'subject_token is required');
  if (params.subject_token_type === undefined) throw new OAuthError('invalid_request', 'subject_token_type is required');
  if ((params.actor_token === undefined) !== (params.actor_token_type === undefined)) {
    throw new OAuthError('invalid_request', 'actor_token and actor_token_type go together');
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== 'urn:ietf:params:oauth:token-type:access_token') {
    throw new OAuthError('invalid_request', 'requested_token_type must be urn:ietf:params:oauth:token-type:access_token');
  }
  return params;
}
