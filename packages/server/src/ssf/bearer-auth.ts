/**
 * The SSF APIs as OAuth protected resources (RFC 6750, CAEP interoperability profile): the receiver's token in the
 * `Authorization: Bearer` header and nowhere else (never the query or the body), one header only, then the scope the
 * operation needs. Failures answer with the RFC 6750 §3 challenge.
 */
import type { SsfReceivers, SsfReceiver } from './ssf-receivers.js';
import { SsfError } from '../errors/index.js';
import type { SsfScope } from './ssf-vocabulary.js';

const REALM = 'writ-ssf';
const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i;

/**
 * The receiver behind the request, if it holds one of `anyOf`.
 *
 * @example
 * const receiver = await authenticateReceiver(receivers, headerValues(req.raw.rawHeaders, 'authorization'), ['ssf.manage']);
 */
export async function authenticateReceiver(
  receivers: SsfReceivers,
  authorization: readonly string[],
  anyOf: readonly SsfScope[],
): Promise<SsfReceiver> {
  if (authorization.length > 1) throw challenge('invalid_request', 'more than one Authorization header');
  const header = authorization[0];
  // RFC 6750 §3.1: a request without credentials gets the challenge without an error code.
  if (header === undefined || !/^bearer /i.test(header))
    throw new SsfError('invalid_token', 'a bearer token is required in the Authorization header', {
      headers: { 'www-authenticate': `Bearer realm="${REALM}"` },
    });
  const m = BEARER.exec(header);
  const receiver = m === null ? undefined : await receivers.authenticate(m[1] as string);
  if (receiver === undefined) throw challenge('invalid_token', 'the access token is not valid');
  if (!anyOf.some((s) => receiver.scopes.includes(s)))
    throw challenge('insufficient_scope', `this operation needs the scope ${anyOf.join(' or ')}`, anyOf[0]);
  return receiver;
}

/** True when `authorization` is `Bearer <token>` of a receiver that holds `scope` (for callers with their own errors). */
export async function bearerHoldsScope(receivers: SsfReceivers, authorization: string | undefined, scope: SsfScope): Promise<boolean> {
  const m = authorization === undefined ? null : BEARER.exec(authorization);
  if (m === null) return false;
  const receiver = await receivers.authenticate(m[1] as string);
  return receiver !== undefined && receiver.scopes.includes(scope);
}

function challenge(error: 'invalid_request' | 'invalid_token' | 'insufficient_scope', description: string, scope?: string): SsfError {
  const params = [
    `realm="${REALM}"`,
    `error="${error}"`,
    `error_description="${description}"`,
    ...(scope !== undefined ? [`scope="${scope}"`] : []),
  ];
  return new SsfError(error, description, { headers: { 'www-authenticate': `Bearer ${params.join(', ')}` } });
}
