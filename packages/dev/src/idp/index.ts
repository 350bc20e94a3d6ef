export { startDevIdentityProvider } from './dev-identity-provider.js';
export type {
  DevIdentityProvider,
  DevIdentityProviderOptions,
  DevAccount,
  DevLoginResult,
  DevIdTokenAlg,
} from './dev-identity-provider.js';
export { startUpstreamAuthorizationServer } from './upstream-authorization-server.js';
export type { UpstreamAuthorizationServer, UpstreamClient, UpstreamApiRequest } from './upstream-authorization-server.js';
