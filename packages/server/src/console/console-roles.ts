/**
 * A person's console role, read from one claim of their ID token (`console.roles.claim`, `groups` by default): admin
 * when a value is among `console.roles.admin`, read-only when among `console.roles.readOnly`, and no console at all
 * otherwise. A string claim counts as a list of one; anything else counts as nothing.
 */
export interface ConsoleRoleSettings {
  claim: string;
  admin: readonly string[];
  readOnly: readonly string[];
}

export function consoleRoleOf(claims: Record<string, unknown>, s: ConsoleRoleSettings): 'admin' | 'read-only' | undefined {
  const raw = claims[s.claim];
  const values = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : [];
  if (values.some((v) => s.admin.includes(v))) return 'admin';
  if (values.some((v) => s.readOnly.includes(v))) return 'read-only';
  return undefined;
}
