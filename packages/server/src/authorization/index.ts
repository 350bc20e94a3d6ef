/**
 * The authorization server for stock OAuth/MCP clients: client registration (metadata documents, RFC 7591), the
 * authorization endpoint with sign-in at the organisation's identity provider and consent that creates a task, and the
 * token endpoint's authorization-code, refresh and ID-JAG grants. docs/authorization-server.md.
 */
export { AuthorizationFlow, CONSOLE_REQUEST_PREFIX } from './authorization-flow.js';
export type { AuthorizationFlowDeps, Outcome } from './authorization-flow.js';
export { ClientRegistry, ClientProblem, metadataUrlProblem } from './clients.js';
export type { OAuthClient, ClientRegistryDeps } from './clients.js';
export { Consents } from './consents.js';
export type { Consent } from './consents.js';
export { IdentityProviderLogin, LoginProblem } from './identity-provider-login.js';
export type { SignedInUser } from './identity-provider-login.js';
export { errorPage, escapeHtml } from './pages.js';
export type { Page } from './pages.js';
export { Sessions, cookieValue } from './sessions.js';
export { TokenGrants } from './token-grants.js';
export type { TokenGrantDeps, StockTokenResponse, GrantContext } from './token-grants.js';
export type { IdJagDeps } from './id-jag-grant.js';
export { stockClientGrants } from './grant-dispatch.js';
export type { StockClientGrants } from './grant-dispatch.js';
export { registerAuthorizationRoutes } from './routes.js';
export type { ToolLister } from './consent-choices.js';
export type { AuthorizationSettings } from './settings.js';
export { matchRedirectUri, redirectUriProblem } from './redirect-uris.js';
export { pkceVerifies, constantTimeEqual, digestOf, newBearerSecret } from './bearer-secrets.js';
export { ConnectedAccounts, registerConnectedAccountRoutes, CONNECTIONS_PATH } from './connected-accounts.js';
export type { ConnectedAccountsDeps } from './connected-accounts.js';
export { ApprovalPages, registerApprovalPageRoutes, APPROVAL_REQUEST_PREFIX } from './approval-pages.js';
export type { ApprovalPagesDeps } from './approval-pages.js';
