export { AdminAuth, hashToken } from './admin-auth.js';
export type { AdminPrincipal } from './admin-auth.js';
export { registerAdminApi } from './admin-plugin.js';
export type { ConsoleSessionAuth } from './admin-plugin.js';
export { actor } from './actor.js';
export { ADMIN_ROUTES } from './routes.js';
export type { AdminServices, AdminRoute } from './routes.js';
export { buildOpenApi } from './openapi.js';
