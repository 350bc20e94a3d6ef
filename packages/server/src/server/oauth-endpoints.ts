/**
 * The OAuth endpoints on raw `node:http`: token (RFC 8693 exchange; the authorization-code, refresh and ID-JAG
 * grants of stock clients from authorization/), introspection (RFC 7662) and revocation
 * (RFC 7009). One implementation each, whatever the request looks like: Fastify is not on this path, because its
 * routing, content-type parsing and reply pipeline cost a large share of an exchange once the cryptography is cheap.
 * Every endpoint reads its form the same way (POST, `application/x-www-form-urlencoded`, a bounded body) and answers
 * every failure in OAuth's shape (errors/oauth-error.ts); a request that is not a form is refused and audited.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PATHS, WritError } from '@writ/protocol';
import { headerValues } from '@writ/verify/internal';
import { asOAuthError, jsonWire, OAuthError, oauthErrorResponse, sendWire } from '../errors/index.js';
import { readBody } from '../http/index.js';
import type { Logger, Tracing } from '../observability/index.js';
import type { AuditPort } from '../audit/index.js';
import type { StockClientGrants } from '../authorization/index.js';
import { exchangeToken, introspectToken, revokeToken, type IntrospectionDeps, type TokenServiceDeps } from '../token/index.js';

/** Forms are small: a token request with RAR details is a few KB. */
export const OAUTH_FORM_LIMIT = 64 * 1024;

export interface OAuthEndpointDeps {
  issuer: string;
  tokenService: TokenServiceDeps;
  /** Introspection and revocation; `audiences` is filled in per endpoint. */
  introspection: Omit<IntrospectionDeps, 'audiences'>;
  /** The grants of stock clients (authorization code, refresh, ID-JAG); every other grant type is the exchange's. */
  grants?: StockClientGrants;
  audit: AuditPort;
  logger: Logger;
  tracing: Tracing;
}

type Endpoint = (
  form: URLSearchParams,
  req: IncomingMessage,
  traceId: string,
) => Promise<{ body: unknown; headers: Record<string, string> }>;

export type OAuthEndpoints = (req: IncomingMessage, res: ServerResponse) => void;

/** The handler for the three paths; the dispatcher sends exactly these paths here. */
export function createOAuthEndpoints(deps: OAuthEndpointDeps): { paths: readonly string[]; handle: OAuthEndpoints } {
  const issuer = deps.issuer;
  const nonceHeader = (): Record<string, string> => {
    const nonce = deps.tokenService.nonces?.current();
    return nonce !== undefined ? { 'dpop-nonce': nonce } : {};
  };
  const endpoints: Record<string, Endpoint> = {
    [PATHS.token]: async (form, req, traceId) => ({
      body: deps.grants?.handles(form.get('grant_type'))
        ? await deps.grants.handle(form.get('grant_type') as string, form, {
            dpop: headerValues(req.rawHeaders, 'dpop'),
            traceId,
            source: req.socket.remoteAddress ?? 'unknown',
          })
        : await exchangeToken(
            { body: form, dpop: headerValues(req.rawHeaders, 'dpop'), traceId, source: req.socket.remoteAddress ?? 'unknown' },
            deps.tokenService,
          ),
      headers: { pragma: 'no-cache', ...nonceHeader() },
    }),
    // The client assertion may name this endpoint, the token endpoint or the issuer as its audience.
    [PATHS.introspect]: async (form) => ({
      body: await introspectToken(form, {
        ...deps.introspection,
        audiences: [`${issuer}${PATHS.introspect}`, `${issuer}${PATHS.token}`, issuer],
      }),
      headers: {},
    }),
    [PATHS.revoke]: async (form) => {
      await revokeToken(form, { ...deps.introspection, audiences: [`${issuer}${PATHS.revoke}`, `${issuer}${PATHS.token}`, issuer] });
      return { body: undefined, headers: {} };
    },
  };

  const handle: OAuthEndpoints = (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0] as string;
    const endpoint = endpoints[path];
    const span = deps.tracing.startServerSpan(`writ.oauth.${path.slice(path.lastIndexOf('/') + 1)}`, req.headers.traceparent);
    const trace = span.trace;
    let grantType: string | null = null;
    const answer = async (): Promise<void> => {
      if (endpoint === undefined) throw new TypeError(`not an OAuth endpoint: ${path}`);
      if (req.method !== 'POST')
        throw new OAuthError('invalid_request', 'this endpoint accepts POST only', { status: 405, headers: { allow: 'POST' } });
      const source = req.socket.remoteAddress ?? 'unknown';
      const form = await readForm(
        req,
        path === PATHS.token ? (detail) => refusedForm(deps.audit, trace.traceId, detail, source) : undefined,
      );
      grantType = form.get('grant_type');
      const { body, headers } = await endpoint(form, req, trace.traceId);
      if (body === undefined) {
        res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' }).end();
        return;
      }
      sendWire(res, jsonWire(200, body, headers));
    };
    answer().then(
      () => span.end({ ...(grantType !== null ? { 'oauth.grant_type': grantType } : {}), 'http.response.status_code': 200 }),
      (err: unknown) => {
        // The endpoints turn every refusal into an OAuthError; anything else is the store failing (503, retryable),
        // input no store can hold (400), or a bug (server_error) — logged, never put on the wire.
        if (!(err instanceof OAuthError)) deps.logger.error({ err, path, trace_id: trace.traceId }, 'oauth endpoint failed');
        const e = asOAuthError(err);
        const wire = oauthErrorResponse(e);
        sendWire(res, wire);
        if (!req.complete) req.resume();
        span.end(
          {
            ...(grantType !== null ? { 'oauth.grant_type': grantType } : {}),
            'http.response.status_code': wire.status,
            'oauth.error': e.error,
          },
          e.error,
        );
      },
    );
  };
  return { paths: Object.keys(endpoints), handle };
}

/** The request's form: POST with `application/x-www-form-urlencoded` (parameters such as `charset` allowed), bounded. */
async function readForm(req: IncomingMessage, onRefused?: (detail: string) => void): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    const detail = 'body is not application/x-www-form-urlencoded';
    onRefused?.(detail);
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded', { detail });
  }
  let form: URLSearchParams;
  try {
    form = new URLSearchParams((await readBody(req, OAUTH_FORM_LIMIT)).toString('utf8'));
  } catch (err) {
    if (!(err instanceof WritError)) throw err;
    onRefused?.(err.detail ?? err.code);
    throw new OAuthError('invalid_request', 'malformed request', { detail: err.detail ?? err.code });
  }
  // No parameter of any OAuth request may carry a NUL: refused here, before any of it is looked up or stored.
  for (const [name, value] of form) {
    if (name.includes('\0') || value.includes('\0')) {
      const detail = `parameter ${JSON.stringify(name.replaceAll('\0', '\\0').slice(0, 40))} contains a NUL character`;
      onRefused?.(detail);
      throw new OAuthError('invalid_request', 'a parameter contains a NUL character', { detail });
    }
  }
  return form;
}

/** A token request refused before the exchange saw it is a denial like any other: on the record. */
function refusedForm(audit: AuditPort, traceId: string, detail: string, source: string): void {
  audit.record({ type: 'token.denied', trace_id: traceId, decision: 'deny', reason: 'invalid_request', detail, data: { source } });
}
