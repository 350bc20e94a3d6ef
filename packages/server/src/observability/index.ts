export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { traceFrom } from './trace-context.js';
export type { TraceContext } from './trace-context.js';
export { createMetrics } from './metrics.js';
export type { WritMetrics, MetricsSources } from './metrics.js';
