/**
 * The operator console (docs/console.md): the browser app in apps/console, served here at `/console/`, signed in at
 * the organisation's identity provider through the authorization server's relying party, with roles from a claim;
 * its sessions are what the admin API accepts besides admin tokens.
 */
export { ConsoleSessions } from './console-sessions.js';
export type { ConsoleIdentity, ConsoleSession, ConsoleSessionsDeps } from './console-sessions.js';
export { consoleRoleOf } from './console-roles.js';
export type { ConsoleRoleSettings } from './console-roles.js';
export { consoleSessionAuth, CSRF_HEADER, BACKGROUND_HEADER } from './console-auth.js';
export type { ConsoleAuthDeps } from './console-auth.js';
export { consoleSignIn, CONSOLE_PATH } from './console-sign-in.js';
export { ConsoleAssets, DEFAULT_ASSETS_DIR } from './console-assets.js';
export { LiveEvents } from './live-events.js';
export { registerConsoleRoutes, SECURITY_HEADERS } from './console-routes.js';
export type { ConsoleRoutesDeps } from './console-routes.js';
