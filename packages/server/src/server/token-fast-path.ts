/**
 * The token endpoint's common request on raw `node:http`, as the gateway's calls are: Fastify's routing, content-type
 * parsing and reply pipeline cost a large share of an exchange once the cryptography is cheap. Only the exact common
 * shape is taken here — `POST /oauth2/token`, `Content-Type: application/x-www-form-urlencoded` with no parameters,
 * a `Content-Length` within the endpoint's body limit, no transfer coding — and it is answered with the bytes the
 * Fastify route writes (same status, the same headers in the same order, the same JSON). Every other request, odd or
 * malformed, still goes to the Fastify route, which stays the reference (a test compares the two).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PATHS } from '@writ/protocol';
import { OAuthError } from '../errors/index.js';
import { exchangeToken, type TokenServiceDeps } from '../token/index.js';
import { traceFrom } from '../observability/index.js';

/** The body limit of the Fastify route's form parser. */
export const TOKEN_BODY_LIMIT = 64 * 1024;

/** True when this request is the one shape the fast path answers; decided from the request line and headers only. */
export function isCommonTokenRequest(req: IncomingMessage): boolean {
  if (req.method !== 'POST' || req.url !== PATHS.token) return false;
  if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return false;
  if (req.headers['transfer-encoding'] !== undefined) return false;
  const length = req.headers['content-length'];
  if (length === undefined || !/^\d{1,5}$/.test(length)) return false;
  return Number(length) <= TOKEN_BODY_LIMIT;
}

export function handleCommonTokenRequest(req: IncomingMessage, res: ServerResponse, deps: TokenServiceDeps): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('error', () => res.destroy());
  req.on('end', () => {
    answer(Buffer.concat(chunks).toString('utf8'), req, res, deps).catch(() => res.destroy());
  });
}

async function answer(body: string, req: IncomingMessage, res: ServerResponse, deps: TokenServiceDeps): Promise<void> {
  const trace = traceFrom(req.headers.traceparent);
  const dpop: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === 'dpop') dpop.push(raw[i + 1] as string);
  let status: number;
  let headers: Record<string, string>;
  let payload: unknown;
  try {
    payload = await exchangeToken({ body: new URLSearchParams(body), dpop, traceId: trace.traceId }, deps);
    const nonce = deps.nonces?.current();
    status = 200;
    headers = { 'cache-control': 'no-store', pragma: 'no-cache', ...(nonce !== undefined ? { 'dpop-nonce': nonce } : {}) };
  } catch (err) {
    // exchangeToken turns every failure into an OAuthError; anything else is a bug, answered as the route would.
    const e = err instanceof OAuthError ? err : new OAuthError('server_error', 'internal error');
    status = e.status;
    headers = { 'cache-control': 'no-store', ...lowerCased(e.headers) };
    payload = e.toJSON();
  }
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Fastify's reply.headers() stores names lower-cased; so do we, so the bytes on the wire match. */
function lowerCased(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
