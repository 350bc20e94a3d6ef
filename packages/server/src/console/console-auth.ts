/**
 * The admin API's view of console sessions (admin-api's `ConsoleSessionAuth`): the principal a session cookie names,
 * and the CSRF proof every request but a GET must carry — the session's token in `X-Writ-CSRF` (a header no other
 * origin can send without a CORS preflight Writ never answers), an `Origin` that is Writ's own, and, where the browser
 * says it, `Sec-Fetch-Site: same-origin`. The cookie is `SameSite=Strict` besides; each check alone would stop a
 * forged request, and all of them must pass.
 */
import type { FastifyRequest } from 'fastify';
import { headerValues } from '@writ/verify/internal';
import type { AdminPrincipal, ConsoleSessionAuth } from '../admin-api/index.js';
import type { ConsoleSession, ConsoleSessions } from './console-sessions.js';

export const CSRF_HEADER = 'x-writ-csrf';
/** Sent by the console on the requests it makes by itself (live refreshes): they do not keep an idle session alive. */
export const BACKGROUND_HEADER = 'x-writ-background';

export interface ConsoleAuthDeps {
  sessions: ConsoleSessions;
  /** Writ's own origin (`scheme://host[:port]` of its public URL). */
  origin: string;
  /** Whether an admin token is still in force (a link's session ends with its token). */
  tokenActive(id: string): Promise<boolean>;
}

export function consoleSessionAuth(d: ConsoleAuthDeps): ConsoleSessionAuth {
  return {
    async authenticate(req, unsafe) {
      const cookie = req.headers.cookie;
      if (d.sessions.cookieValue(cookie) === undefined) return undefined;
      const background = headerValues(req.raw.rawHeaders, BACKGROUND_HEADER)[0] === '1';
      const session = await sessionOf(d, cookie, !background);
      if (session === undefined) return { refused: 'the console session is over: sign in again', status: 401 };
      const principal: AdminPrincipal = {
        id: session.subject,
        name: session.displayName,
        kind: session.kind === 'person' ? 'person' : 'token',
        role: session.role,
        via: 'console',
      };
      if (unsafe) {
        const problem = csrfProblem(req, session, d);
        if (problem !== undefined) return { refused: `CSRF check failed: ${problem}`, status: 403, principal };
      }
      return { principal };
    },
  };
}

/** The session a cookie names, if it is not over and (for a link's session) its admin token still stands. */
export async function sessionOf(d: ConsoleAuthDeps, cookie: string | undefined, touch: boolean): Promise<ConsoleSession | undefined> {
  const session = await d.sessions.read(cookie, { touch });
  if (session === undefined) return undefined;
  if (session.kind === 'admin-token' && !(await d.tokenActive(session.subject))) {
    await d.sessions.end(session.idHash);
    return undefined;
  }
  return session;
}

/** Why a state-changing request is not the console's own, or undefined when it is. */
export function csrfProblem(
  req: FastifyRequest,
  session: ConsoleSession,
  d: Pick<ConsoleAuthDeps, 'sessions' | 'origin'>,
): string | undefined {
  const tokens = headerValues(req.raw.rawHeaders, CSRF_HEADER);
  if (tokens.length !== 1 || !d.sessions.csrfValid(session.idHash, tokens[0])) return `missing or wrong ${CSRF_HEADER}`;
  const origins = headerValues(req.raw.rawHeaders, 'origin');
  if (origins.length !== 1 || origins[0] !== d.origin) return 'Origin is not Writ';
  const site = headerValues(req.raw.rawHeaders, 'sec-fetch-site');
  if (site.length > 1 || (site.length === 1 && site[0] !== 'same-origin')) return 'not a same-origin request';
  return undefined;
}
