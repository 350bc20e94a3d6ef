export { buildPostureReport } from './posture-report.js';
export type { Finding, PostureOptions, PostureReport, PostureSources, Severity } from './posture-report.js';
