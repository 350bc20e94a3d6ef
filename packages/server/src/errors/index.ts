export { OAuthError } from './oauth-error.js';
