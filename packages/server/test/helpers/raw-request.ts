/**
 * An HTTP client that sends the request line and headers exactly as given — no URL normalisation, repeated headers
 * kept — so attack tests can send what a hostile agent would (`..`, `%2e%2e`, `//`, two Authorization headers).
 */
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): unknown;
}

export function rawRequest(
  base: string,
  opts: { method: string; path: string; headers?: Array<[string, string]>; body?: Buffer | string; chunks?: Buffer[] },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const flat: string[] = ['host', url.host];
    for (const [k, v] of opts.headers ?? []) flat.push(k, v);
    const req = request(
      { host: url.hostname, port: url.port, method: opts.method, path: opts.path, headers: flat, setHost: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as unknown });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('error', () => undefined);
    if (opts.body !== undefined) req.write(opts.body);
    // Chunked transfer (no Content-Length): the body's size is only known as it streams.
    for (const c of opts.chunks ?? []) req.write(c);
    req.end();
  });
}
