/**
 * Every value of one request header, repeats included, read from the raw header list: Node folds repeated headers
 * (and drops repeats of some, such as Authorization), and a second Authorization or DPoP header must never hide
 * behind the first.
 */
import type { IncomingMessage } from 'node:http';

export function headerValues(req: IncomingMessage, lower: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if ((req.rawHeaders[i] as string).toLowerCase() === lower) out.push(req.rawHeaders[i + 1] as string);
  }
  return out;
}
