export { startDevIdentityProvider } from './dev-identity-provider.js';
export type {
  DevIdentityProvider,
  DevIdentityProviderOptions,
  DevAccount,
  DevLoginResult,
  DevIdTokenAlg,
} from './dev-identity-provider.js';
