/**
 * Writ's own sign-in session, between the identity provider's answer and the consent decision: a random cookie
 * (`HttpOnly`, `SameSite=Lax`, `Path=/oauth2/`, `Secure` unless Writ is served over plain http on loopback), stored
 * as its digest, short-lived (`authorization.sessionSeconds`). It never authorizes a call: only the task token does.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { digestOf, newBearerSecret } from './bearer-secrets.js';
import type { SignedInUser } from './identity-provider-login.js';

export const SESSION_COOKIE = 'writ_session';

export interface Session {
  /** The digest of the cookie's value: what CSRF tokens are bound to. */
  idHash: string;
  user: SignedInUser;
  expiresAt: number;
}

export class Sessions {
  readonly #db: Kysely<Database>;
  readonly #seconds: number;
  readonly #secure: boolean;
  readonly #now: () => number;

  constructor(deps: { db: Kysely<Database>; sessionSeconds: number; secureCookies: boolean; now: () => number }) {
    this.#db = deps.db;
    this.#seconds = deps.sessionSeconds;
    this.#secure = deps.secureCookies;
    this.#now = deps.now;
  }

  /** A new session for the user; the `Set-Cookie` value to send. */
  async create(user: SignedInUser): Promise<{ session: Session; setCookie: string }> {
    const id = newBearerSecret();
    const now = this.#now();
    const session: Session = { idHash: digestOf(id), user, expiresAt: now + this.#seconds * 1000 };
    await this.#db
      .insertInto('oauth_sessions')
      .values({
        id_hash: session.idHash,
        user_id: user.userId,
        claims: JSON.stringify(user.claims),
        created_at: now,
        expires_at: session.expiresAt,
      })
      .execute();
    return { session, setCookie: this.#cookie(id, this.#seconds) };
  }

  /** The session the request's cookie names, when it exists and has not expired. */
  async read(cookieHeader: string | undefined): Promise<Session | undefined> {
    const id = cookieValue(cookieHeader, SESSION_COOKIE);
    if (id === undefined || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const row = await this.#db.selectFrom('oauth_sessions').selectAll().where('id_hash', '=', digestOf(id)).executeTakeFirst();
    if (row === undefined || row.expires_at <= this.#now()) return undefined;
    return {
      idHash: row.id_hash,
      user: { userId: row.user_id, claims: JSON.parse(row.claims) as Record<string, unknown> },
      expiresAt: row.expires_at,
    };
  }

  async prune(): Promise<void> {
    const now = this.#now();
    await this.#db.deleteFrom('oauth_sessions').where('expires_at', '<', now).execute();
    await this.#db.deleteFrom('oauth_logins').where('expires_at', '<', now).execute();
  }

  #cookie(value: string, maxAge: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/oauth2/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${this.#secure ? '; Secure' : ''}`;
  }
}

/** One cookie's value from a `Cookie` header; a name present twice is ambiguous, and so absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const found = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.startsWith(`${name}=`))
    .map((p) => p.slice(name.length + 1));
  return found.length === 1 ? found[0] : undefined;
}
