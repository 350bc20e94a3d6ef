/**
 * RFC 8693 §2.1 token exchange at Writ's token endpoint: the user's token as `subject_token`, the target `resource`
 * (RFC 8707 §2), the requested `authorization_details` (RFC 9396 §2, a JSON array in a form parameter) and Writ's task
 * `purpose`; the agent authenticates with `private_key_jwt` (RFC 7523 §2.2) and binds the token to its key with a DPoP
 * proof (RFC 9449 §5). When the server asks for a nonce (RFC 9449 §8: 400 `use_dpop_nonce` + `DPoP-Nonce`), the request
 * is sent once more with a new proof and a new assertion. A successful answer whose `token_type` is not `DPoP` is
 * refused: RFC 9449 §5 says a client must discard a token that came back without the binding it asked for.
 */
import {
  CLIENT_ASSERTION_TYPE_JWT_BEARER,
  GRANT_TYPE_TOKEN_EXCHANGE,
  PATHS,
  TOKEN_TYPE,
  type TaskAuthorizationDetail,
  type TokenExchangeResponse,
} from '@writ/protocol';
import type { CryptoKey, KeyObject } from 'jose';
import { createClientAssertion } from './client-assertion.js';
import type { DpopKey } from './dpop-key.js';
import { createDpopProof } from './dpop-proof.js';
import { readJsonObject } from './read-json-object.js';
import { TokenExchangeError } from './token-exchange-error.js';

export interface ExchangeTokenOptions {
  /** Writ's base URL (its issuer identifier); the token endpoint is `${issuer}/oauth2/token`. */
  issuer: string;
  /** The agent id: `client_id` and the assertion's iss/sub. Optional with a workload `actorToken`. */
  clientId?: string;
  /**
   * The agent's registered private key (private_key_jwt). Leave it out when the agent authenticates with a workload
   * token as `actorToken`, or when a parent delegates (its task token and proof authenticate it).
   */
  clientKey?: CryptoKey | KeyObject;
  clientKid?: string;
  /** Defaults to the algorithm the key implies. */
  clientAlg?: string;
  /**
   * The key of this request's DPoP proof: the key the issued token is bound to (`cnf.jkt`), or, when delegating,
   * the parent's key, proving possession of the parent task token given as `subjectToken`.
   */
  dpopKey: DpopKey;
  subjectToken: string;
  /** Delegation: the proof carries `ath` of the parent task token (`subjectToken`). */
  proveSubjectToken?: boolean;
  /** Delegation to a workload sub-agent: the thumbprint of the key the child token is bound to. */
  dpopJkt?: string;
  /** Defaults to `urn:ietf:params:oauth:token-type:jwt`. */
  subjectTokenType?: string;
  actorToken?: string;
  /** Defaults to `urn:ietf:params:oauth:token-type:jwt` when `actorToken` is given. */
  actorTokenType?: string;
  resource?: string | readonly string[];
  audience?: string | readonly string[];
  authorizationDetails?: readonly TaskAuthorizationDetail[];
  scope?: string;
  /** The task's purpose, recorded with the task and visible to grant conditions. */
  purpose?: string;
  /**
   * Last `DPoP-Nonce` per origin. Pass the same map to later calls (and to `createDpopFetch`) so that a nonce the
   * server handed out is used on the next request instead of costing a refused round trip (RFC 9449 §8.2).
   */
  nonces?: Map<string, string>;
  fetch?: typeof fetch;
}

/**
 * @example
 * const res = await exchangeToken({ issuer, clientId: 'agent-a', clientKey, dpopKey, subjectToken: idToken,
 *   subjectTokenType: TOKEN_TYPE.idToken, resource: `${issuer}/r/api`, purpose: 'weekly report',
 *   authorizationDetails: [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }] });
 */
export async function exchangeToken(opts: ExchangeTokenOptions): Promise<TokenExchangeResponse> {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const endpoint = `${opts.issuer.replace(/\/+$/, '')}${PATHS.token}`;
  const origin = new URL(endpoint).origin;
  const nonces = opts.nonces ?? new Map<string, string>();
  if (opts.actorToken === undefined && opts.actorTokenType !== undefined) {
    // RFC 8693 §2.1: actor_token_type must not be sent without an actor_token.
    throw new TypeError('actorTokenType given without actorToken');
  }

  for (let attempt = 0; ; attempt++) {
    const form = new URLSearchParams();
    form.set('grant_type', GRANT_TYPE_TOKEN_EXCHANGE);
    form.set('subject_token', opts.subjectToken);
    form.set('subject_token_type', opts.subjectTokenType ?? TOKEN_TYPE.jwt);
    if (opts.actorToken !== undefined) {
      form.set('actor_token', opts.actorToken);
      form.set('actor_token_type', opts.actorTokenType ?? TOKEN_TYPE.jwt);
    }
    for (const r of list(opts.resource)) form.append('resource', r);
    for (const a of list(opts.audience)) form.append('audience', a);
    if (opts.authorizationDetails !== undefined) form.set('authorization_details', JSON.stringify(opts.authorizationDetails));
    if (opts.scope !== undefined) form.set('scope', opts.scope);
    if (opts.purpose !== undefined) form.set('purpose', opts.purpose);
    if (opts.dpopJkt !== undefined) form.set('dpop_jkt', opts.dpopJkt);
    if (opts.clientId !== undefined) form.set('client_id', opts.clientId);
    if (opts.clientKey !== undefined) {
      if (opts.clientId === undefined) throw new TypeError('clientKey needs clientId');
      form.set('client_assertion_type', CLIENT_ASSERTION_TYPE_JWT_BEARER);
      // A new assertion per attempt: the server remembers jtis, so the first one is spent even when refused.
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
    }
    const nonce = nonces.get(origin);
    const proof = await createDpopProof(opts.dpopKey, {
      htm: 'POST',
      htu: endpoint,
      ...(nonce !== undefined ? { nonce } : {}),
      ...(opts.proveSubjectToken === true ? { accessToken: opts.subjectToken } : {}),
    });
    const res = await doFetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', dpop: proof },
      body: form.toString(),
      // The body carries a client assertion and the user's token: never replay them to wherever a redirect points.
      redirect: 'manual',
    });
    // RFC 9449 §8.2: the server may hand out the next nonce on any answer, success included.
    const newNonce = res.headers.get('dpop-nonce');
    if (newNonce !== null) nonces.set(origin, newNonce);
    const body = await readJsonObject(res);

    if (res.status === 200) return tokenResponse(res.status, body);

    const error = typeof body?.['error'] === 'string' ? body['error'] : 'invalid_response';
    const description = typeof body?.['error_description'] === 'string' ? body['error_description'] : undefined;
    if (res.status === 400 && error === 'use_dpop_nonce' && newNonce !== null && attempt === 0) continue;
    throw new TokenExchangeError(
      res.status,
      error,
      description ?? (body === undefined ? `unexpected HTTP ${res.status} answer` : undefined),
    );
  }
}

function list(v: string | readonly string[] | undefined): readonly string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/** RFC 8693 §2.2.1 + RFC 9449 §5: checks every member this SDK relies on, so the type it returns is not a guess. */
function tokenResponse(status: number, body: Record<string, unknown> | undefined): TokenExchangeResponse {
  const bad = (why: string): TokenExchangeError => new TokenExchangeError(status, 'invalid_response', why);
  if (body === undefined) throw bad('the token response is not a JSON object');
  const { access_token, issued_token_type, token_type, expires_in, scope, authorization_details, task_id } = body;
  // token_type is case-insensitive (RFC 6749 §5.1); anything but DPoP means the binding was lost.
  if (typeof token_type !== 'string' || token_type.toLowerCase() !== 'dpop') {
    throw bad(`token_type is ${JSON.stringify(token_type)}, not DPoP: the token is not bound to the agent's key and was discarded`);
  }
  if (typeof access_token !== 'string' || access_token === '') throw bad('access_token missing');
  if (issued_token_type !== TOKEN_TYPE.accessToken) throw bad('issued_token_type is not an access token');
  if (typeof expires_in !== 'number' || !Number.isFinite(expires_in) || expires_in <= 0) throw bad('expires_in missing or not positive');
  if (!Array.isArray(authorization_details)) throw bad('authorization_details missing');
  if (typeof task_id !== 'string' || task_id === '') throw bad('task_id missing');
  if (scope !== undefined && typeof scope !== 'string') throw bad('scope is not a string');
  return {
    access_token,
    issued_token_type,
    token_type: 'DPoP',
    expires_in,
    ...(scope !== undefined ? { scope } : {}),
    authorization_details: authorization_details as TaskAuthorizationDetail[],
    task_id,
  };
}
