import { USER_ENTITY_CLAIMS } from '../policy/index.js';

/** The claims of a signed-in user that grants read, and only those: what a task's tokens carry. */
export function userClaimsOf(claims: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of USER_ENTITY_CLAIMS) {
    const v = claims[name];
    if (typeof v === 'string' && v !== '') out[name] = v;
  }
  return out;
}
