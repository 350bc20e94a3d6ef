/** The `audit` and `tracing` sections of the configuration schema (schema.ts): what is recorded, where it goes. */
import { z } from 'zod';

const sinkName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _')
  .describe('names the sink and its cursor: renaming a sink starts it again from the beginning of the log');
const sinkFormat = z.enum(['ocsf', 'jsonl']).default('ocsf').describe('`ocsf`: OCSF 1.3.0 events; `jsonl`: the stored rows');
const sinkBatch = z.number().int().min(1).max(5_000).default(500).describe('events per delivery');
const auditSink = z.discriminatedUnion('kind', [
  z.strictObject({
    name: sinkName,
    kind: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/ }).describe('where to POST each batch as NDJSON (through the egress rules; retried with backoff)'),
    format: sinkFormat,
    batchSize: sinkBatch,
  }),
  z.strictObject({
    name: sinkName,
    kind: z.literal('file'),
    path: z.string().min(1).describe('file to append to; rotated to `<path>.1`, `.2`, … by size'),
    format: sinkFormat,
    batchSize: sinkBatch,
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .default(100 * 1024 * 1024)
      .describe('rotate before the file would pass this size'),
    maxFiles: z.number().int().min(1).max(100).default(10).describe('rotated files kept'),
  }),
]);

export const tracingConfig = z
  .strictObject({
    exporter: z
      .enum(['none', 'otlp'])
      .default('none')
      .describe('`otlp`: export a span for each token request and gateway call over OTLP/HTTP (OTEL_TRACES_EXPORTER)'),
    tracesEndpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('the URL spans are POSTed to (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)'),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("the collector's base URL, `/v1/traces` appended (OTEL_EXPORTER_OTLP_ENDPOINT; default http://localhost:4318)"),
    headers: z
      .string()
      .max(8192)
      .optional()
      .describe('`key=value,…` sent with every export, e.g. a collector API key — prefer the environment (OTEL_EXPORTER_OTLP_HEADERS)'),
    tracesHeaders: z
      .string()
      .max(8192)
      .optional()
      .describe('as `headers`, for traces only; wins over `headers` (OTEL_EXPORTER_OTLP_TRACES_HEADERS)'),
    serviceName: z.string().min(1).max(200).default('writ').describe('`service.name` of the spans (OTEL_SERVICE_NAME)'),
  })
  .prefault({});

export const auditConfig = z
  .strictObject({
    flushIntervalMs: z
      .number()
      .int()
      .positive()
      .max(10_000)
      .default(20)
      .describe('longest wait before an audit event that nothing waits for (a denial, an outcome, a change) is written'),
    commitTimeoutMs: z
      .number()
      .int()
      .positive()
      .max(60_000)
      .default(2_000)
      .describe(
        'longest a call waits for its write-ahead audit record to commit; past it the call is refused (`503 ERR_NOT_READY`) and not forwarded',
      ),
    anonymousDenialWindowSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(10)
      .describe(
        'refusals of unauthenticated callers are recorded per window of this length: the first of each (type, reason, address) as it happens, then one record with the count',
      ),
    checkpoints: z
      .strictObject({
        intervalSeconds: z
          .number()
          .int()
          .min(0)
          .max(86_400)
          .default(60)
          .describe('sign the audit chain head this often when it moved (control nodes; 0: only on demand, `writ audit checkpoint`)'),
        file: z
          .string()
          .min(1)
          .optional()
          .describe('append every new checkpoint as a JSON line to this file — on storage the database operator cannot rewrite'),
        webhookUrl: z
          .url({ protocol: /^https?$/ })
          .optional()
          .describe('POST every new checkpoint as JSON to this URL (through the egress rules, retried with backoff)'),
      })
      .prefault({})
      .describe('signed checkpoints of the audit chain: see [audit.md](audit.md#signed-checkpoints)'),
    sinks: z
      .array(auditSink)
      .max(8)
      .default([])
      .refine((sinks) => new Set(sinks.map((s) => s.name)).size === sinks.length, { message: 'sink names must be unique' })
      .describe(
        'stream the log, as OCSF 1.3.0 events or the stored rows, to a SIEM endpoint (`kind: webhook`, NDJSON) or a rotating file (`kind: file`); each sink resumes from its own cursor in the database — see [audit.md](audit.md#streaming-to-a-siem)',
      ),
    sinkPollMs: z.number().int().min(10).max(60_000).default(1_000).describe('how often an idle audit sink looks for new events'),
    /** Bound on buffered events; past it, enforcement points refuse calls (fail closed). */
    maxBufferedEvents: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe('past this backlog the gateway refuses calls (`503 ERR_NOT_READY`) and `/readyz` says so'),
  })
  .prefault({});
