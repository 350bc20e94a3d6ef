/**
 * Console sessions: a random cookie (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` and the `__Host-` prefix
 * unless Writ is served over plain http on loopback), stored only as its digest, ended by the first of an idle and an
 * absolute timeout. `Path=/` because the console's pages and the admin API they call live under different paths; the
 * admin API only accepts the cookie with a CSRF proof on every request that is not a GET (console-auth.ts).
 *
 * The CSRF token is an HMAC of the session's digest under a key derived from the KEK: every node computes the same
 * one, none is stored, and it is useless without the cookie (and the cookie without it).
 */
import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import { constantTimeEqual, cookieValue, digestOf, newBearerSecret } from '../authorization/index.js';
import type { Database } from '../storage/index.js';

/** Who a console session is: a person signed in at the identity provider, or an admin token (a one-time link). */
export interface ConsoleIdentity {
  /** The person's Writ user id (`<provider>:<sub>`), or the admin token's id. */
  subject: string;
  kind: 'person' | 'admin-token';
  displayName: string;
  role: 'admin' | 'read-only';
}

export interface ConsoleSession extends ConsoleIdentity {
  /** The digest of the cookie's value: the session's name in the store and what its CSRF token is bound to. */
  idHash: string;
  createdAt: number;
  /** The absolute end. */
  expiresAt: number;
  /** When it ends if no one uses it before. */
  idleExpiresAt: number;
}

export interface ConsoleSessionsDeps {
  db: Kysely<Database>;
  idleMs: number;
  absoluteMs: number;
  secureCookies: boolean;
  csrfKey: Buffer;
  now: () => number;
}

/** A one-time link is good this long, once. */
const LINK_MS = 5 * 60_000;
/** Use moves the idle end at most this often: one write per session per window, not per request. */
const TOUCH_EVERY_MS = 15_000;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

export class ConsoleSessions {
  readonly #d: ConsoleSessionsDeps;
  readonly cookieName: string;

  constructor(deps: ConsoleSessionsDeps) {
    this.#d = deps;
    // `__Host-` binds the cookie to this origin (Secure, Path=/, no Domain): a sibling subdomain cannot plant one.
    this.cookieName = deps.secureCookies ? '__Host-writ_console' : 'writ_console';
  }

  async create(who: ConsoleIdentity): Promise<{ session: ConsoleSession; setCookie: string }> {
    const id = newBearerSecret();
    const now = this.#d.now();
    const session: ConsoleSession = {
      ...who,
      idHash: digestOf(id),
      createdAt: now,
      expiresAt: now + this.#d.absoluteMs,
      idleExpiresAt: Math.min(now + this.#d.idleMs, now + this.#d.absoluteMs),
    };
    await this.#d.db
      .insertInto('console_sessions')
      .values({
        id_hash: session.idHash,
        subject: who.subject,
        kind: who.kind,
        display_name: who.displayName,
        role: who.role,
        created_at: now,
        last_seen_at: now,
        expires_at: session.expiresAt,
      })
      .execute();
    return { session, setCookie: this.#cookie(id, Math.ceil(this.#d.absoluteMs / 1000)) };
  }

  /**
   * The session the request's cookie names, if it is not over. `touch`: this is someone using the console (not a page
   * refreshing itself), so the idle end moves.
   */
  async read(cookieHeader: string | undefined, o: { touch: boolean }): Promise<ConsoleSession | undefined> {
    const id = this.cookieValue(cookieHeader);
    if (id === undefined) return undefined;
    const row = await this.#d.db.selectFrom('console_sessions').selectAll().where('id_hash', '=', digestOf(id)).executeTakeFirst();
    if (row === undefined) return undefined;
    const now = this.#d.now();
    const last = Number(row.last_seen_at);
    const expiresAt = Number(row.expires_at);
    if (expiresAt <= now || last + this.#d.idleMs <= now) {
      await this.end(row.id_hash);
      return undefined;
    }
    let seen = last;
    if (o.touch && now - last >= TOUCH_EVERY_MS) {
      await this.#d.db.updateTable('console_sessions').set({ last_seen_at: now }).where('id_hash', '=', row.id_hash).execute();
      seen = now;
    }
    return {
      idHash: row.id_hash,
      subject: row.subject,
      kind: row.kind,
      displayName: row.display_name,
      role: row.role,
      createdAt: Number(row.created_at),
      expiresAt,
      idleExpiresAt: Math.min(seen + this.#d.idleMs, expiresAt),
    };
  }

  /** Whether the request carries a console cookie at all (valid or not). */
  cookieValue(cookieHeader: string | undefined): string | undefined {
    const id = cookieValue(cookieHeader, this.cookieName);
    return id !== undefined && SECRET.test(id) ? id : undefined;
  }

  async end(idHash: string): Promise<void> {
    await this.#d.db.deleteFrom('console_sessions').where('id_hash', '=', idHash).execute();
  }

  /** Ends every session of one subject (a person offboarded, an admin token revoked). */
  async endAllOf(subject: string): Promise<number> {
    const r = await this.#d.db.deleteFrom('console_sessions').where('subject', '=', subject).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** The `Set-Cookie` that removes the cookie from the browser. */
  get clearCookie(): string {
    return this.#cookie('', 0);
  }

  csrfToken(idHash: string): string {
    return createHmac('sha256', this.#d.csrfKey).update(`console-csrf:${idHash}`).digest('base64url');
  }

  csrfValid(idHash: string, presented: string | undefined): boolean {
    return presented !== undefined && constantTimeEqual(presented, this.csrfToken(idHash));
  }

  /** A one-time sign-in link's code for an admin token: good for five minutes, once. */
  async createLink(subject: string, displayName: string): Promise<{ code: string; expiresAt: number }> {
    const code = newBearerSecret();
    const expiresAt = this.#d.now() + LINK_MS;
    await this.#d.db
      .insertInto('console_links')
      .values({ code_hash: digestOf(code), subject, display_name: displayName, expires_at: expiresAt })
      .execute();
    return { code, expiresAt };
  }

  /** The link's admin token, once: the row is gone before anything else happens, whatever happens next. */
  async redeemLink(code: string): Promise<{ subject: string; displayName: string } | undefined> {
    if (!SECRET.test(code)) return undefined;
    const row = await this.#d.db.deleteFrom('console_links').where('code_hash', '=', digestOf(code)).returningAll().executeTakeFirst();
    if (row === undefined || Number(row.expires_at) <= this.#d.now()) return undefined;
    return { subject: row.subject, displayName: row.display_name };
  }

  async prune(): Promise<void> {
    const now = this.#d.now();
    await this.#d.db
      .deleteFrom('console_sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - this.#d.idleMs)]))
      .execute();
    await this.#d.db.deleteFrom('console_links').where('expires_at', '<=', now).execute();
  }

  #cookie(value: string, maxAge: number): string {
    return `${this.cookieName}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${this.#d.secureCookies ? '; Secure' : ''}`;
  }
}
