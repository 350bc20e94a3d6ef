import type { AdminPrincipal } from './admin-auth.js';

/** How an admin is named in audit records and change events. */
export function actor(p: AdminPrincipal): string {
  return `admin:${p.name}`;
}
