import type { AdminPrincipal } from './admin-auth.js';

/** How an admin is named in audit records and change events: `admin:<token name>`, or `user:<user id>` for a person. */
export function actor(p: AdminPrincipal): string {
  return p.kind === 'person' ? `user:${p.id}` : `admin:${p.name}`;
}
