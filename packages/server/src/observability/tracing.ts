/**
 * OpenTelemetry traces, off unless configured (`tracing.exporter: otlp`, or the standard `OTEL_TRACES_EXPORTER=otlp`
 * with `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
 * `OTEL_SERVICE_NAME`): a server span for each token-endpoint request and each gateway call, continuing the caller's
 * `traceparent`; the span's own id is what Writ sends upstream and records in the audit, so the upstream's spans,
 * Writ's span and the audit record line up in one trace.
 *
 * Spans are exported over OTLP/HTTP in batches by a provider of Writ's own: nothing is registered globally, so
 * several Writ servers in one process (tests) and an embedding application's own tracing do not interfere.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { traceFrom, type TraceContext } from './trace-context.js';

export interface TracingConfig {
  exporter: 'none' | 'otlp';
  /** The full URL spans are POSTed to (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). */
  tracesEndpoint?: string | undefined;
  /** The collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT); `/v1/traces` is appended. */
  endpoint?: string | undefined;
  /** `key=value,key2=value2` (OTEL_EXPORTER_OTLP_HEADERS), values percent-encoded. */
  headers?: string | undefined;
  /** As `headers`, for traces only; wins over them (OTEL_EXPORTER_OTLP_TRACES_HEADERS). */
  tracesHeaders?: string | undefined;
  serviceName: string;
}

/** A server span in progress: its trace context (what goes upstream and into the audit), and how it ends. */
export interface ServerSpan {
  readonly trace: TraceContext;
  end(attributes: Attributes, error?: string): void;
}

export interface Tracing {
  readonly enabled: boolean;
  startServerSpan(name: string, traceparent: string | string[] | undefined, attributes?: Attributes): ServerSpan;
  /** Exports what is buffered (tests, shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** No tracing: the trace context is still continued (and sent upstream, and audited); no span is made. */
export const NO_TRACING: Tracing = {
  enabled: false,
  startServerSpan: (_name, traceparent) => ({ trace: traceFrom(traceparent), end: () => undefined }),
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

export function startTracing(config: TracingConfig, version: string): Tracing {
  if (config.exporter !== 'otlp') return NO_TRACING;
  const url = config.tracesEndpoint ?? (config.endpoint !== undefined ? `${config.endpoint.replace(/\/+$/, '')}/v1/traces` : undefined);
  const exporter = new OTLPTraceExporter({
    ...(url !== undefined ? { url } : {}),
    headers: parseHeaders(config.tracesHeaders ?? config.headers),
  });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': version }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer: Tracer = provider.getTracer('writ', version);
  return {
    enabled: true,
    startServerSpan(name, traceparent, attributes) {
      const incoming = traceFrom(traceparent);
      const parent =
        incoming.parentSpanId !== undefined
          ? trace.setSpanContext(ROOT_CONTEXT, {
              traceId: incoming.traceId,
              spanId: incoming.parentSpanId,
              traceFlags: incoming.sampled ? 1 : 0,
              isRemote: true,
            })
          : ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, ...(attributes !== undefined ? { attributes } : {}) }, parent);
      const sc = span.spanContext();
      const sampled = (sc.traceFlags & 1) === 1;
      return {
        trace: {
          traceId: sc.traceId,
          spanId: sc.spanId,
          parentSpanId: incoming.parentSpanId,
          sampled,
          traceparent: `00-${sc.traceId}-${sc.spanId}-${sampled ? '01' : '00'}`,
        },
        end(attrs, error) {
          span.setAttributes(attrs);
          if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
          span.end();
        },
      };
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** OTEL_EXPORTER_OTLP_HEADERS: `k=v` pairs separated by commas, keys and values percent-decoded. */
function parseHeaders(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // A pair that does not decode is skipped, as the specification says.
    }
  }
  return out;
}
