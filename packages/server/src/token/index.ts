export { exchangeToken } from './exchange/exchange-token.js';
export type { TokenServiceDeps, TokenRequestContext } from './exchange/exchange-token.js';
export { SigningKeys } from './keys/signing-keys.js';
export { introspectToken, revokeToken } from './introspect-and-revoke.js';
export type { IntrospectionDeps } from './introspect-and-revoke.js';
