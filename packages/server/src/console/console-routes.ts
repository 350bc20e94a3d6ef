/**
 * The console's routes under `/console/` (control role): its page and built assets, sign-in (at the identity
 * provider, or with a one-time link an admin token made), sign-out, who is signed in (with the CSRF token the page
 * sends back on every change), and the live stream. The console reads and changes everything through the admin API.
 *
 * Every answer carries a strict Content-Security-Policy (scripts and styles from this origin only, nothing inline,
 * no framing), `X-Frame-Options: DENY`, `nosniff`, no referrer, and isolation headers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdminError } from '../errors/index.js';
import { errorPage, type Page } from '../authorization/index.js';
import type { AuditPort } from '../audit/index.js';
import type { ConsoleAssets } from './console-assets.js';
import { csrfProblem, sessionOf, type ConsoleAuthDeps } from './console-auth.js';
import { CONSOLE_PATH } from './console-sign-in.js';
import type { ConsoleSessions } from './console-sessions.js';
import type { LiveEvents } from './live-events.js';

export interface ConsoleRoutesDeps {
  publicUrl: string;
  sessions: ConsoleSessions;
  auth: ConsoleAuthDeps;
  /** The relying party shared with the authorization server: starts a sign-in that comes back to the console. */
  signIn: { configured(): boolean; start(): Promise<{ url: URL; setCookie: string }> };
  assets: ConsoleAssets;
  live: LiveEvents;
  audit: AuditPort;
  idleMinutes: number;
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
    "manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

export function registerConsoleRoutes(app: FastifyInstance, d: ConsoleRoutesDeps): void {
  void app.register(async (scope) => {
    // What an answer set for itself stands (a server-rendered page's CSP with its style nonce); the rest is added.
    scope.addHook('onSend', async (_req, reply, payload) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(name)) void reply.header(name, value);
      return payload;
    });

    scope.get('/console', async (_req, reply) => reply.code(308).header('location', CONSOLE_PATH).send());

    scope.get(CONSOLE_PATH, async (req, reply) => {
      const page = d.assets.get('index.html');
      if (page === undefined)
        return sendPage(
          reply,
          errorPage(503, 'The console is not built', 'Run `npm run build` in the Writ repository, then start Writ again.'),
        );
      return asset(req, reply, page, 'no-cache');
    });

    scope.get('/console/assets/:name', async (req, reply) => {
      const name = (req.params as { name: string }).name;
      const file = name === 'index.html' ? undefined : d.assets.get(name);
      if (file === undefined) throw new AdminError('ERR_ADMIN_NOT_FOUND', 'no such console asset');
      return asset(req, reply, file, 'no-cache');
    });

    scope.get('/console/login', async (_req, reply) => {
      if (!d.signIn.configured())
        return sendPage(
          reply,
          errorPage(503, 'Sign-in is not configured', 'Set authorization.login to the identity provider people sign in at.'),
        );
      const { url, setCookie } = await d.signIn.start();
      return redirect(reply, url.href, setCookie);
    });

    // A one-time link made with an admin token (`POST /admin/v1/console/links`; `writ dev` prints one).
    scope.get('/console/link', async (req, reply) => {
      const code = (req.query as Record<string, unknown>)['code'];
      const source = req.socket.remoteAddress ?? 'unknown';
      const link = typeof code === 'string' ? await d.sessions.redeemLink(code) : undefined;
      if (link === undefined || !(await d.auth.tokenActive(link.subject))) {
        d.audit.record({ type: 'console.denied', decision: 'deny', reason: 'link_invalid', data: { source } });
        return sendPage(reply, errorPage(400, 'This link cannot be used', 'It has expired or was already used. Ask for a new one.'));
      }
      const { setCookie } = await d.sessions.create({
        subject: link.subject,
        kind: 'admin-token',
        displayName: link.displayName,
        role: 'admin',
      });
      d.audit.record({
        type: 'console.signed_in',
        decision: 'allow',
        reason: 'admin_token_link',
        actor_chain: [`admin:${link.displayName}`],
        data: { role: 'admin', source },
      });
      return redirect(reply, `${d.publicUrl}${CONSOLE_PATH}`, setCookie);
    });

    scope.get('/console/session', async (req, reply) => {
      const session = await sessionOf(d.auth, req.headers.cookie, false);
      if (session === undefined) throw new AdminError('ERR_ADMIN_UNAUTHENTICATED', 'not signed in to the console');
      return reply.header('cache-control', 'no-store').send({
        subject: session.subject,
        kind: session.kind,
        name: session.displayName,
        role: session.role,
        csrf: d.sessions.csrfToken(session.idHash),
        expires_at: session.expiresAt,
        idle_expires_at: session.idleExpiresAt,
        idle_minutes: d.idleMinutes,
      });
    });

    scope.post('/console/logout', async (req, reply) => {
      const session = await sessionOf(d.auth, req.headers.cookie, false);
      if (session === undefined) return reply.code(204).header('set-cookie', d.sessions.clearCookie).send();
      const who = session.kind === 'person' ? { user_id: session.subject } : { actor_chain: [`admin:${session.displayName}`] };
      const problem = csrfProblem(req, session, d.auth);
      if (problem !== undefined) {
        d.audit.record({ type: 'console.denied', decision: 'deny', reason: 'csrf', detail: `sign-out: ${problem}`, ...who });
        throw new AdminError('ERR_ADMIN_FORBIDDEN', `CSRF check failed: ${problem}`);
      }
      await d.sessions.end(session.idHash);
      d.audit.record({
        type: 'console.signed_out',
        decision: 'allow',
        reason: 'signed_out',
        ...who,
      });
      return reply.code(204).header('set-cookie', d.sessions.clearCookie).send();
    });

    scope.get('/console/events', async (req, reply) => {
      const session = await sessionOf(d.auth, req.headers.cookie, false);
      if (session === undefined) throw new AdminError('ERR_ADMIN_UNAUTHENTICATED', 'not signed in to the console');
      if (d.live.full)
        throw new AdminError('ERR_ADMIN_RATE_LIMITED', 'too many live console streams on this node', [], { 'retry-after': '5' });
      const cookie = req.headers.cookie;
      reply.hijack();
      d.live.open(reply.raw, SECURITY_HEADERS, async () => (await sessionOf(d.auth, cookie, false)) !== undefined);
    });
  });
}

function asset(
  req: FastifyRequest,
  reply: FastifyReply,
  file: { body: Buffer; contentType: string; etag: string },
  cache: string,
): FastifyReply {
  void reply.header('etag', file.etag).header('cache-control', cache);
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.type(file.contentType).send(file.body);
}

function redirect(reply: FastifyReply, location: string, setCookie?: string): FastifyReply {
  if (setCookie !== undefined) void reply.header('set-cookie', setCookie);
  return reply.code(303).header('cache-control', 'no-store').header('location', location).send();
}

function sendPage(reply: FastifyReply, page: Page): FastifyReply {
  return reply.code(page.status).headers(page.headers).send(page.body);
}
