/** What Writ's raw `node:http` endpoints share below the domains: reading a bounded request body. */
export { readBody } from './read-body.js';
