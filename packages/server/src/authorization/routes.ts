/**
 * The authorization server's browser-facing routes on Fastify (none is on a per-call path): the authorization
 * endpoint, the identity provider's callback, the consent page and its form, and Dynamic Client Registration.
 * Pages carry their own security headers (pages.ts); redirects are 303 so a form post is never replayed.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PATHS } from '@writ/protocol';
import { RegistrationError } from '../errors/index.js';
import type { AuthorizationFlow, Outcome } from './authorization-flow.js';
import type { ClientRegistry } from './clients.js';
import { errorPage } from './pages.js';
import type { AuthorizationSettings } from './settings.js';

export interface AuthorizationRoutesDeps {
  issuer: string;
  flow: AuthorizationFlow;
  clients: ClientRegistry;
  settings: Pick<AuthorizationSettings, 'registration'>;
}

const FORM_LIMIT = 64 * 1024;

export function registerAuthorizationRoutes(app: FastifyInstance, deps: AuthorizationRoutesDeps): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
      done(null, new URLSearchParams(body as string));
    });

    scope.get(PATHS.authorize, async (req, reply) => {
      const q = query(req);
      if (q === undefined) return send(reply, errorPage(400, 'This request cannot be served', 'A parameter holds a NUL character.'));
      return send(reply, await deps.flow.authorize(q, req.headers.cookie, source(req)));
    });

    scope.get(PATHS.loginCallback, async (req, reply) => {
      const q = query(req);
      if (q === undefined) return send(reply, errorPage(400, 'Sign-in failed', 'A parameter holds a NUL character.'));
      const current = new URL(`${deps.issuer}${PATHS.loginCallback}`);
      current.search = q.toString();
      return send(reply, await deps.flow.callback(current, source(req), req.headers.cookie));
    });

    scope.get(PATHS.consent, async (req, reply) => {
      const q = query(req);
      return send(reply, await deps.flow.consentForm(q?.get('request') ?? '', req.headers.cookie));
    });

    scope.post(PATHS.consent, async (req, reply) => {
      const form = req.body instanceof URLSearchParams ? req.body : undefined;
      if (form === undefined || [...form].some(([k, v]) => k.includes('\0') || v.includes('\0'))) {
        return send(reply, errorPage(400, 'This request cannot be served', 'The form could not be read.'));
      }
      const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
      return send(reply, await deps.flow.decide(form, req.headers.cookie, origin, source(req)));
    });

    if (deps.settings.registration.mode !== 'closed') {
      scope.post(PATHS.register, async (req, reply) => {
        const r = deps.settings.registration;
        if (r.mode === 'token' && !initialAccessTokenOk(req.headers.authorization, r.initialAccessToken)) {
          throw new RegistrationError('invalid_token', 'a valid initial access token is required');
        }
        const answer = await deps.clients.registerClient(req.body);
        return reply.code(201).header('cache-control', 'no-store').header('pragma', 'no-cache').send(answer);
      });
    }
  });
}

/** A page, or a 303 redirect (never cached, no referrer) that may set the sign-in cookie. */
export function send(reply: FastifyReply, outcome: Outcome): FastifyReply {
  if ('redirect' in outcome) {
    if (outcome.setCookie !== undefined) void reply.header('set-cookie', outcome.setCookie);
    return reply
      .code(303)
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('location', outcome.redirect)
      .send();
  }
  return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
}

/** The query as parsed from the raw URL (repeats kept); undefined when any part holds a NUL. */
function query(req: FastifyRequest): URLSearchParams | undefined {
  const i = req.url.indexOf('?');
  const q = new URLSearchParams(i === -1 ? '' : req.url.slice(i + 1));
  for (const [k, v] of q) if (k.includes('\0') || v.includes('\0')) return undefined;
  return q;
}

function source(req: FastifyRequest): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function initialAccessTokenOk(header: string | undefined, expected: string | undefined): boolean {
  if (expected === undefined || header === undefined) return false;
  const m = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
  if (m === null) return false;
  const a = Buffer.from(m[1] as string);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
