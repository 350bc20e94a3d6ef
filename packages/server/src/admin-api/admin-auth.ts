/**
 * Admin authentication by admin tokens: 256-bit random values, stored only as SHA-256 digests (a fast hash is
 * right for high-entropy tokens), looked up by digest and compared in constant time. WRIT_ADMIN_TOKEN, when set,
 * is accepted as well (for scripts); it is never stored or logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { randomId } from '../ids/index.js';
import type { Database } from '../storage/index.js';

export interface AdminPrincipal {
  /** The admin token's id, or the person's Writ user id (`<provider>:<sub>`). */
  id: string;
  name: string;
  /** `token`: an admin token (scripts, the CLI, a console link it made); `person`: someone signed in to the console. */
  kind: 'token' | 'person';
  /** A `read-only` principal is refused every change, by the server. */
  role: 'admin' | 'read-only';
  /** How this request was authenticated: an `Authorization` header, or a console session cookie. */
  via: 'token' | 'console';
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class AdminAuth {
  readonly #db: Kysely<Database>;
  readonly #fixed: Buffer | undefined;

  constructor(deps: { db: Kysely<Database>; fixedToken?: string | undefined }) {
    this.#db = deps.db;
    this.#fixed = deps.fixedToken === undefined ? undefined : Buffer.from(hashToken(deps.fixedToken), 'hex');
  }

  /** Issues a new admin token; the value is returned once and never again. */
  async create(name: string, now = Date.now()): Promise<{ id: string; token: string }> {
    const token = `writ_admin_${randomBytes(32).toString('base64url')}`;
    const id = randomId('adm');
    await this.#db
      .insertInto('admin_tokens')
      .values({ id, name, token_hash: hashToken(token), created_at: now, last_used_at: null, revoked_at: null })
      .execute();
    return { id, token };
  }

  async count(): Promise<number> {
    const r = await this.#db
      .selectFrom('admin_tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Whether the admin token `id` still stands (`env`: WRIT_ADMIN_TOKEN, while it is configured). */
  async active(id: string): Promise<boolean> {
    if (id === 'env') return this.#fixed !== undefined;
    const row = await this.#db
      .selectFrom('admin_tokens')
      .select('id')
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  async authenticate(authorization: string | undefined): Promise<AdminPrincipal | undefined> {
    if (authorization === undefined) return undefined;
    const m = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/.exec(authorization);
    if (m === null) return undefined;
    const digest = Buffer.from(hashToken(m[1] as string), 'hex');
    if (this.#fixed !== undefined && timingSafeEqual(digest, this.#fixed))
      return { id: 'env', name: 'WRIT_ADMIN_TOKEN', kind: 'token', role: 'admin', via: 'token' };
    const row = await this.#db
      .selectFrom('admin_tokens')
      .select(['id', 'name', 'token_hash'])
      .where('token_hash', '=', digest.toString('hex'))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (row === undefined || !timingSafeEqual(Buffer.from(row.token_hash, 'hex'), digest)) return undefined;
    return { id: row.id, name: row.name, kind: 'token', role: 'admin', via: 'token' };
  }
}
