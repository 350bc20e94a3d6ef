export { OAuthError } from './oauth-error.js';
export { AdminError, ADMIN_ERROR_STATUS } from './admin-error.js';
export type { AdminErrorCode } from './admin-error.js';
