/**
 * The operator console's wiring (console/): its sessions, the sign-in it shares with the authorization server, the
 * admin API's acceptance of its sessions, its routes and live stream — built from `console` in the configuration.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { isLoopbackHost } from '@writ/verify/internal';
import type { WritConfig } from '../config/index.js';
import type { AuditPort } from '../audit/index.js';
import type { Database } from '../storage/index.js';
import type { AdminAuth, AdminPrincipal, ConsoleSessionAuth } from '../admin-api/index.js';
import type { Outcome, SignedInUser } from '../authorization/index.js';
import {
  ConsoleAssets,
  ConsoleSessions,
  LiveEvents,
  consoleSessionAuth,
  consoleSignIn,
  registerConsoleRoutes,
  type ConsoleAuthDeps,
} from '../console/index.js';

export interface ConsoleWiring {
  config: WritConfig;
  db: Kysely<Database>;
  publicUrl: string;
  csrfKey: Buffer;
  /** Whether an admin token still stands: a one-time link's session ends with its token. */
  adminTokens: Pick<AdminAuth, 'active'>;
  audit: AuditPort;
  /** The audit log's head, this node's pending records included (the live stream's signal). */
  auditHead(): Promise<number>;
  now: () => number;
  assetsDir?: string | undefined;
}

export interface NodeConsole {
  /** For the authorization server's callback: a sign-in the console started ends here. */
  finishSignIn(user: SignedInUser, source: string): Promise<Outcome>;
  /** For the admin API: the principal a console session names. */
  sessionAuth: ConsoleSessionAuth;
  links: { create(principal: AdminPrincipal): Promise<{ url: string; expires_at: number }> };
  routes(app: FastifyInstance, signIn: { configured(): boolean; start(): Promise<{ url: URL; setCookie: string }> }): void;
  prune(): Promise<void>;
  /** A person's access was revoked (a user revocation): their console sessions end too. */
  userRevoked(userId: string): Promise<void>;
  close(): void;
}

/** Undefined when `console.enabled` is false: no routes, and the admin API accepts admin tokens only. */
export function createConsole(w: ConsoleWiring): NodeConsole | undefined {
  const c = w.config.console;
  if (!c.enabled) return undefined;
  const url = new URL(w.publicUrl);
  const sessions = new ConsoleSessions({
    db: w.db,
    idleMs: c.idleMinutes * 60_000,
    absoluteMs: c.absoluteHours * 3_600_000,
    // Plain http is only ever acceptable on loopback; anywhere else the cookie never travels without TLS.
    secureCookies: !(url.protocol === 'http:' && isLoopbackHost(url.hostname)),
    csrfKey: w.csrfKey,
    now: w.now,
  });
  const auth: ConsoleAuthDeps = { sessions, origin: url.origin, tokenActive: (id) => w.adminTokens.active(id) };
  const live = new LiveEvents({ head: w.auditHead, intervalMs: 1000, maxStreams: 1000 });
  const assets = new ConsoleAssets(w.assetsDir);
  return {
    finishSignIn: consoleSignIn({ publicUrl: w.publicUrl, sessions, roles: c.roles, audit: w.audit }),
    sessionAuth: consoleSessionAuth(auth),
    links: {
      create: async (principal) => {
        const { code, expiresAt } = await sessions.createLink(principal.id, principal.name);
        return { url: `${w.publicUrl}/console/link?code=${code}`, expires_at: expiresAt };
      },
    },
    routes: (app, signIn) =>
      registerConsoleRoutes(app, {
        publicUrl: w.publicUrl,
        sessions,
        auth,
        signIn,
        assets,
        live,
        audit: w.audit,
        idleMinutes: c.idleMinutes,
      }),
    prune: () => sessions.prune(),
    userRevoked: async (userId) => {
      await sessions.endAllOf(userId);
    },
    close: () => live.close(),
  };
}
