export { startDevIdentityProvider } from './dev-identity-provider.js';
export type { DevIdentityProvider, DevIdentityProviderOptions, DevAccount } from './dev-identity-provider.js';
