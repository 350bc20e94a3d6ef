/** What Writ's HTTP endpoints share below the domains: reading a bounded request body, throttling failed authentications. */
export { readBody } from './read-body.js';
export { FailedAuthThrottle } from './failed-auth-throttle.js';
export type { FailedAuthThrottleOptions } from './failed-auth-throttle.js';
export { outboundUrl } from './outbound-url.js';
export { EgressGuard, EgressRefusedError } from './egress-guard.js';
export type { EgressGuardOptions } from './egress-guard.js';
