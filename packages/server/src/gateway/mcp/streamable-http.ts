/**
 * The HTTP side of MCP Streamable HTTP as the gateway serves it: one JSON-RPC message per POST (a JSON body within
 * the size bound, classified and re-serialised by json-rpc.ts), answers as JSON or as a server-sent event stream,
 * and the one GET stream a session may hold for messages the upstream starts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WritError } from '@writ/protocol';
import { jsonRpcResponse, RPC, sendWire, type JsonRpcId, type JsonRpcMessage, type RpcErrorCode } from '../../errors/index.js';
import { readBody } from '../../http/index.js';
import { classifyMessage, JsonRpcShapeError, type ClassifiedMessage } from './json-rpc.js';
import { SseWriter } from './sse.js';
import type { McpSession } from './mcp-session.js';

/** A POST's message, or why it is not one (the gateway audits and answers the refusal as a JSON-RPC error). */
export type ReadMessage =
  { ok: true; message: ClassifiedMessage } | { ok: false; detail: string; rpcCode: RpcErrorCode; id: JsonRpcId | null };

export async function readMessage(req: IncomingMessage, maxBodyBytes: number): Promise<ReadMessage> {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json')) throw new WritError('ERR_MCP_MESSAGE_INVALID', `content-type ${type.slice(0, 80)}`);
  const body = (await readBody(req, maxBodyBytes)).toString('utf8');
  try {
    return { ok: true, message: classifyMessage(JSON.parse(body) as unknown) };
  } catch (err) {
    if (err instanceof JsonRpcShapeError) return { ok: false, detail: err.message, rpcCode: RPC.invalidRequest, id: err.id };
    return { ok: false, detail: 'invalid JSON', rpcCode: RPC.parseError, id: null };
  }
}

/** Answers with one JSON-RPC message as a JSON body. */
export function answerJson(res: ServerResponse, status: number, message: JsonRpcMessage, headers: Record<string, string>): void {
  sendWire(res, jsonRpcResponse(status, message, headers));
}

/** Answers with no body (an accepted notification or response: 202; a closed session: 200). */
export function answerEmpty(res: ServerResponse, status: number, headers: Record<string, string>): void {
  res.writeHead(status, headers).end();
}

/**
 * A request's answer. The agent that accepts a stream gets one only when the upstream sends something before the
 * answer (progress, a request of its own); an answer that is all there is goes as one JSON body — one write with a
 * length instead of a chunked stream, and no event parsing for the agent (a client that accepts both must take
 * either, MCP Streamable HTTP).
 */
export class RequestAnswer {
  readonly #res: ServerResponse;
  readonly #headers: Record<string, string>;
  readonly #streams: boolean;
  #sse: SseWriter | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>) {
    this.#res = res;
    this.#headers = headers;
    this.#streams = String(req.headers.accept ?? '').includes('text/event-stream');
  }

  /** A message that goes before the answer: it opens the stream; an agent that takes JSON only is not sent it. */
  relay(message: JsonRpcMessage): void {
    if (!this.#streams) return;
    this.#sse ??= new SseWriter(this.#res, this.#headers, false);
    this.#sse.send(message);
  }

  finish(answer: JsonRpcMessage): void {
    if (this.#sse === undefined) return answerJson(this.#res, 200, answer, this.#headers);
    this.#sse.send(answer);
    this.#sse.end();
  }
}

/**
 * Binds the agent's GET stream to its session: only one at a time, kept alive by comments. `lease` is taken only once
 * the stream is acceptable (it is the upstream share the stream will hold) and given back when the stream ends.
 */
export function openGetStream(
  req: IncomingMessage,
  res: ServerResponse,
  session: McpSession,
  headers: Record<string, string>,
  lease: () => { release(): void },
): void {
  if (!String(req.headers.accept ?? '').includes('text/event-stream'))
    throw new WritError('ERR_MCP_MESSAGE_INVALID', 'GET needs Accept: text/event-stream');
  // Refused before a header is sent: a second stream gets its 409, not a 200 that is then cut.
  if (session.getStreamOpen) throw new WritError('ERR_MCP_STREAM_CONFLICT', 'a GET stream is already open for this session');
  const held = lease();
  const stream = new SseWriter(res, headers);
  session.attachGetStream(stream, held);
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), 25_000).unref();
  res.on('close', () => {
    clearInterval(keepalive);
    session.detachGetStream(stream);
  });
}
