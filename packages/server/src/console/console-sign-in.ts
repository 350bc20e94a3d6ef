/**
 * The end of a console sign-in: the identity provider vouched for a person (authorization/'s relying party, its
 * callback handing over sign-ins the console started); the role their claims map to decides whether they get a
 * session. Both outcomes are on the record with the person's id.
 */
import { errorPage, type SignedInUser } from '../authorization/index.js';
import type { AuditPort } from '../audit/index.js';
import { consoleRoleOf, type ConsoleRoleSettings } from './console-roles.js';
import type { ConsoleSessions } from './console-sessions.js';

export const CONSOLE_PATH = '/console/';

export interface ConsoleSignInDeps {
  publicUrl: string;
  sessions: ConsoleSessions;
  roles: ConsoleRoleSettings;
  audit: AuditPort;
}

export type SignInOutcome = { redirect: string; setCookie?: string | string[] } | ReturnType<typeof errorPage>;

/** A person the identity provider vouched for, in the browser that started the sign-in (the relying party checked). */
export function consoleSignIn(d: ConsoleSignInDeps): (user: SignedInUser, source: string) => Promise<SignInOutcome> {
  return async (user, source) => {
    const role = consoleRoleOf(user.claims, d.roles);
    const name = displayName(user);
    if (role === undefined) {
      d.audit.record({
        type: 'console.denied',
        user_id: user.userId,
        decision: 'deny',
        reason: 'no_console_role',
        detail: `claim ${d.roles.claim} names no console role`,
        data: { source },
      });
      return errorPage(
        403,
        'No access to the console',
        `You signed in as ${name}, but your organisation has not given you a role in Writ's console. Ask its administrators.`,
      );
    }
    const { setCookie } = await d.sessions.create({ subject: user.userId, kind: 'person', displayName: name, role });
    d.audit.record({
      type: 'console.signed_in',
      user_id: user.userId,
      decision: 'allow',
      reason: 'identity_provider',
      data: { role, source },
    });
    return { redirect: `${d.publicUrl}${CONSOLE_PATH}`, setCookie };
  };
}

/** What the console calls a person: their name, else their email, else their Writ user id. */
function displayName(user: SignedInUser): string {
  for (const claim of ['name', 'email']) {
    const v = user.claims[claim];
    if (typeof v === 'string' && v.trim() !== '') return v.trim().slice(0, 200);
  }
  return user.userId;
}
