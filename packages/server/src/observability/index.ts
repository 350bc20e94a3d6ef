export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { traceFrom } from './trace-context.js';
export type { TraceContext } from './trace-context.js';
export { createMetrics } from './metrics.js';
export type { WritMetrics, MetricsSources } from './metrics.js';
export { NO_TRACING, startTracing } from './tracing.js';
export type { ServerSpan, Tracing, TracingConfig } from './tracing.js';
