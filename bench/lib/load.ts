/**
 * A closed-loop HTTP load generator on undici: `connections` loops, each on its own connection, issuing one request
 * after another for `durationMs`. Latency goes into an HDR histogram (perf_hooks), per request.
 */
import { createHistogram } from 'node:perf_hooks';
import { Client } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  non2xx: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
}

export async function runLoad(opts: {
  origin: string;
  path: string;
  connections: number;
  durationMs: number;
  headers?: () => Record<string, string>;
}): Promise<LoadResult> {
  const hist = createHistogram();
  let requests = 0;
  let errors = 0;
  let non2xx = 0;
  const clients = Array.from({ length: opts.connections }, () => new Client(opts.origin, { pipelining: 1, keepAliveTimeout: 60_000 }));
  const start = performance.now();
  const deadline = start + opts.durationMs;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        const t0 = process.hrtime.bigint();
        try {
          const res = await client.request({ path: opts.path, method: 'GET', headers: opts.headers?.() ?? {} });
          await res.body.dump();
          if (res.statusCode >= 300) non2xx++;
          hist.record(Number(process.hrtime.bigint() - t0) || 1);
          requests++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  return { requests, errors, non2xx, seconds, rps: requests / seconds, p50ms: hist.percentile(50) / 1e6, p99ms: hist.percentile(99) / 1e6 };
}
