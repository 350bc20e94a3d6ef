export { startWritServer } from './writ-server.js';
export type { WritServer, StartOptions } from './writ-server.js';
