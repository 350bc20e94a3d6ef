/**
 * Every value of one request header, repeats included, from the raw header list: Node folds repeated headers (and
 * drops repeats of some, such as Authorization), and a second Authorization or DPoP header must never hide behind
 * the first. The one reader of raw headers, for the gateway, the token service and the verifier middleware alike.
 */

/** Node's flat `rawHeaders` (`name, value, name, value…`), or `[name, value]` pairs (Fetch-style frameworks). */
export type RawHeaders = readonly string[] | ReadonlyArray<readonly [string, string]>;

/**
 * @example
 * const dpop = headerValues(req.rawHeaders, 'dpop'); // every DPoP header, in order
 */
export function headerValues(headers: RawHeaders, lowerCaseName: string): string[] {
  const out: string[] = [];
  if (headers.length === 0) return out;
  if (typeof headers[0] === 'string') {
    const flat = headers as readonly string[];
    for (let i = 0; i + 1 < flat.length; i += 2) if ((flat[i] as string).toLowerCase() === lowerCaseName) out.push(flat[i + 1] as string);
  } else {
    for (const [name, value] of headers as ReadonlyArray<readonly [string, string]>)
      if (name.toLowerCase() === lowerCaseName) out.push(value);
  }
  return out;
}
