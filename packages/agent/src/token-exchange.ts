/**
 * RFC 8693 token exchange at Writ's token endpoint, with `private_key_jwt` client authentication (RFC 7523) and a
 * DPoP proof (RFC 9449 §5). One retry when the server asks for a DPoP nonce. A response without `token_type: DPoP`
 * is discarded (RFC 9449 §5: the client must not use a token that lost its binding).
 */
import {
  CLIENT_ASSERTION_TYPE_JWT_BEARER,
  GRANT_TYPE_TOKEN_EXCHANGE,
  PATHS,
  TOKEN_TYPE,
  type AuthorizationDetail,
  type TokenExchangeResponse,
} from '@writ/protocol';
import type { CryptoKey, KeyObject } from 'jose';
import { createClientAssertion } from './client-assertion.js';
import type { DpopKey } from './dpop-key.js';
import { createDpopProof } from './dpop-proof.js';

export class TokenExchangeError extends Error {
  readonly error: string;
  readonly errorDescription: string | undefined;
  readonly status: number;
  constructor(status: number, error: string, description?: string) {
    super(`${error}${description !== undefined ? `: ${description}` : ''}`);
    this.name = 'TokenExchangeError';
    this.error = error;
    this.errorDescription = description;
    this.status = status;
  }
}

export interface ExchangeTokenOptions {
  /** Writ's base URL (its issuer identifier). */
  issuer: string;
  clientId: string;
  clientKey: CryptoKey | KeyObject;
  clientKid?: string;
  clientAlg?: string;
  dpopKey: DpopKey;
  subjectToken: string;
  subjectTokenType?: string;
  actorToken?: string;
  actorTokenType?: string;
  resource?: string;
  audience?: string;
  authorizationDetails?: AuthorizationDetail[];
  scope?: string;
  purpose?: string;
  fetch?: typeof fetch;
}

export async function exchangeToken(opts: ExchangeTokenOptions): Promise<TokenExchangeResponse> {
  const doFetch = opts.fetch ?? fetch;
  const endpoint = `${opts.issuer.replace(/\/+$/, '')}${PATHS.token}`;
  let nonce: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const form = new URLSearchParams({
      grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
      subject_token: opts.subjectToken,
      subject_token_type: opts.subjectTokenType ?? TOKEN_TYPE.jwt,
    });
    if (opts.actorToken !== undefined) {
      form.set('actor_token', opts.actorToken);
      form.set('actor_token_type', opts.actorTokenType ?? TOKEN_TYPE.jwt);
    }
    if (opts.resource !== undefined) form.set('resource', opts.resource);
    if (opts.audience !== undefined) form.set('audience', opts.audience);
    if (opts.authorizationDetails !== undefined) form.set('authorization_details', JSON.stringify(opts.authorizationDetails));
    if (opts.scope !== undefined) form.set('scope', opts.scope);
    if (opts.purpose !== undefined) form.set('purpose', opts.purpose);
    form.set('client_id', opts.clientId);
    form.set('client_assertion_type', CLIENT_ASSERTION_TYPE_JWT_BEARER);
    form.set(
      'client_assertion',
      await createClientAssertion({
        clientId: opts.clientId,
        audience: endpoint,
        key: opts.clientKey,
        ...(opts.clientKid !== undefined ? { kid: opts.clientKid } : {}),
        ...(opts.clientAlg !== undefined ? { alg: opts.clientAlg } : {}),
      }),
    );
    const proof = await createDpopProof(opts.dpopKey, { htm: 'POST', htu: endpoint, ...(nonce !== undefined ? { nonce } : {}) });
    const res = await doFetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', dpop: proof },
      body: form.toString(),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok) {
      if (body['token_type'] !== 'DPoP' || typeof body['access_token'] !== 'string') {
        throw new TokenExchangeError(res.status, 'invalid_response', 'the token is not DPoP-bound; discarded');
      }
      return body as unknown as TokenExchangeResponse;
    }
    const error = typeof body['error'] === 'string' ? body['error'] : 'invalid_response';
    const newNonce = res.headers.get('dpop-nonce');
    if (error === 'use_dpop_nonce' && newNonce !== null && attempt === 0) {
      nonce = newNonce;
      continue;
    }
    throw new TokenExchangeError(res.status, error, typeof body['error_description'] === 'string' ? body['error_description'] : undefined);
  }
  throw new TokenExchangeError(400, 'use_dpop_nonce', 'the server asked for a nonce twice');
}
