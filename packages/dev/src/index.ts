/**
 * `@writ/dev` — development tooling, private to the repository (never published): the dev identity provider (and
 * the scripted browser that signs its users in), the demo upstream, the scripted demo agent and `writ dev` itself.
 * Tests and benchmarks use the identity provider too.
 */
export { startDevIdentityProvider } from './idp/index.js';
export type { DevIdentityProvider, DevIdentityProviderOptions, DevAccount, DevLoginResult, DevIdTokenAlg } from './idp/index.js';
export { startUpstreamAuthorizationServer } from './idp/index.js';
export type { UpstreamAuthorizationServer, UpstreamClient, UpstreamApiRequest } from './idp/index.js';
export { ScriptedBrowser } from './idp/scripted-browser.js';
export { startDemoUpstream } from './demo-upstream.js';
export type { DemoUpstream } from './demo-upstream.js';
export { runDev, demoGrant, demoMcpGrant } from './run-dev.js';
export type { DevOptions, DevHandle } from './run-dev.js';
