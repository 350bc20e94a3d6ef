/** `@writ/server/dev` — development tools: the dev identity provider, the demo upstream and `writ dev` itself. Never for production. */
export { startDevIdentityProvider } from './idp/index.js';
export type { DevIdentityProvider, DevIdentityProviderOptions, DevAccount } from './idp/index.js';
export { startDemoUpstream } from './demo-upstream.js';
export type { DemoUpstream } from './demo-upstream.js';
export { runDev } from './run-dev.js';
export type { DevOptions, DevHandle } from './run-dev.js';
