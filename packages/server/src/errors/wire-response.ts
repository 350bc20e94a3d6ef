/**
 * What every error answer is before it is written: a status, lower-case headers and a JSON body. Each wire family
 * (OAuth, admin, gateway denial, JSON-RPC, Shared Signals) builds one of these in its own module; the two senders
 * below put it on the wire, on raw `node:http` and on Fastify alike, so a fast path and a route answer the same bytes.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

export interface WireResponse {
  status: number;
  /** Lower-case names; `content-type` and `content-length` included. */
  headers: Record<string, string>;
  /** JSON text. */
  body: string;
}

/** A JSON answer with the headers every error answer carries (`cache-control: no-store`), plus `extra`. */
export function jsonWire(status: number, payload: unknown, extra: Record<string, string> = {}): WireResponse {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v;
  headers['content-type'] = 'application/json; charset=utf-8';
  headers['content-length'] = String(Buffer.byteLength(body));
  return { status, headers, body };
}

/** Writes `w` on a raw response; once headers have left, the only honest answer is to cut the connection. */
export function sendWire(res: ServerResponse, w: WireResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(w.status, w.headers);
  res.end(w.body);
}

/** Writes `w` through Fastify's reply (its own serialisation bypassed: the body is already JSON text). */
export function replyWire(reply: FastifyReply, w: WireResponse): FastifyReply {
  return reply.code(w.status).headers(w.headers).send(w.body);
}
