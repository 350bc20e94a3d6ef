/**
 * The answer of an upstream that had a credential injected, on its way back to the agent: nothing injected may be
 * in it (principle 2, the return direction). Header values are scrubbed in place; the body passes through the
 * vault's scrubber as it streams, after a decompressor when the upstream compressed it although Writ asked for
 * `identity`. An encoding Writ cannot read is refused rather than passed on, since the credential could hide in it.
 */
import type { Transform, Writable } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import type { SecretScrubber } from '../../vault/index.js';

export class UnscrubbableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnscrubbableError';
  }
}

export type ScrubbedWhere = 'headers' | 'body';

/** The stages an answer's body passes through: `head` receives the upstream's bytes; the last stage is piped to the agent. */
export interface ScrubbedBody {
  head: Writable & NodeJS.ReadableStream;
  rest: Transform[];
}

/**
 * @example
 * const body = scrubbedBody(scrubber, headers, (secrets, where) => audit.scrubbed(state, secrets, where));
 * res.writeHead(status, headers); pipeline(body.head, ...body.rest, res, done);
 */
export function scrubbedBody(
  scrubber: SecretScrubber,
  headers: Record<string, string | string[]>,
  found: (secrets: string[], where: ScrubbedWhere) => void,
): ScrubbedBody {
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
  const scrub = scrubber.stream((id) => found([id], 'body'));
  return decoder === undefined ? { head: scrub, rest: [] } : { head: decoder, rest: [scrub] };
}
