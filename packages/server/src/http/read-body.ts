/**
 * A request body read whole, never more than a bound: a declared `Content-Length` over it is refused before a byte
 * is read, a streamed body at the first byte past it. The one body reader of Writ's raw `node:http` endpoints (the
 * MCP gateway, the token endpoint); the HTTP gateway streams bodies instead (BodyLimit in http-gateway.ts).
 */
import type { IncomingMessage } from 'node:http';
import { WritError } from '@writ/protocol';

/**
 * @example
 * const text = (await readBody(req, 64 * 1024)).toString('utf8');
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw new WritError('ERR_BODY_TOO_LARGE', `content-length ${declared}`);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > maxBytes) throw new WritError('ERR_BODY_TOO_LARGE', `more than ${maxBytes} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}
