/**
 * The answer of an upstream that had a credential injected, on its way back to the agent: nothing injected may be
 * in it (principle 2, the return direction). Header values are scrubbed in place; the body passes through the
 * vault's scrubber as it streams, after a decompressor when the upstream compressed it although Writ asked for
 * `identity`. An encoding Writ cannot read is refused rather than passed on, since the credential could hide in it.
 */
import type { ServerResponse } from 'node:http';
import { pipeline, Writable, type Transform } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import { ChunkScrubber, type SecretScrubber } from '../../vault/index.js';

export class UnscrubbableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnscrubbableError';
  }
}

export type ScrubbedWhere = 'headers' | 'body';

/**
 * Where undici writes the upstream's body: straight into the agent's response, scrubbed on the way, with the
 * response's backpressure. No stream pipeline between the two (a per-call cost on the hot path); a compressed answer
 * gets a decompressor in front (`decoded`).
 */
class ScrubbingResponse extends Writable {
  readonly #chunks: ChunkScrubber;
  readonly #res: ServerResponse;

  constructor(chunks: ChunkScrubber, res: ServerResponse) {
    super();
    this.#chunks = chunks;
    this.#res = res;
    // The agent went away: undici learns it from this stream, as it would from the response itself.
    res.once('close', () => {
      if (!res.writableFinished) this.destroy(new Error('the agent closed the connection'));
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const out = this.#chunks.push(chunk);
    if (out === undefined || this.#res.write(out)) cb();
    else this.#res.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    const tail = this.#chunks.end();
    if (tail === undefined) this.#res.end(() => cb());
    else this.#res.end(tail, () => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (err !== null) this.#res.destroy();
    cb(err);
  }
}

/**
 * Scrubs the answer's header values in place and gives the writable undici streams the body into.
 *
 * @example
 * const { sink, done } = scrubbedAnswer(scrubber, headers, res, (secrets, where) => audit.scrubbed(state, secrets, where));
 * res.writeHead(status, headers); return sink; // from undici's stream factory; then `await done`
 */
export function scrubbedAnswer(
  scrubber: SecretScrubber,
  headers: Record<string, string | string[]>,
  res: ServerResponse,
  found: (secrets: string[], where: ScrubbedWhere) => void,
): { sink: Writable; done?: Promise<void> } {
  const encoding = String(headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  let decoder: Transform | undefined;
  if (encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate') decoder = createUnzip();
  else if (encoding === 'br') decoder = createBrotliDecompress();
  else if (encoding !== 'identity' && encoding !== '') throw new UnscrubbableError(`content-encoding ${encoding} cannot be scrubbed`);
  if (decoder !== undefined) {
    delete headers['content-encoding'];
    delete headers['content-length'];
  }
  const inHeaders = new Set<string>();
  for (const name in headers) {
    const v = headers[name] as string | string[];
    headers[name] = typeof v === 'string' ? scrubber.scrubText(v, inHeaders) : v.map((x) => scrubber.scrubText(x, inHeaders));
  }
  if (inHeaders.size > 0) found([...inHeaders], 'headers');
  const sink = new ScrubbingResponse(new ChunkScrubber(scrubber, (id) => found([id], 'body')), res);
  if (decoder === undefined) return { sink };
  // undici is done when the decoder has taken the last byte; the call is done when the agent's answer is.
  const done = new Promise<void>((resolve, reject) =>
    pipeline(decoder, sink, (err) => (err === undefined || err === null ? resolve() : reject(err))),
  );
  done.catch(() => undefined); // awaited by the caller after undici is done
  return { sink: decoder, done };
}
