/**
 * A JWT an agent signs with a key of its registered JWKS to say who it is: the RFC 7523 client assertion of
 * `private_key_jwt`, and the actor assertion a sub-agent gives its parent for delegation. Both are checked alike:
 * `iss` = `sub` = the agent id, `aud` Writ's token endpoint or issuer, a short life, and a `jti` used only once — one
 * namespace for both kinds, so an assertion can never be spent twice, whatever it is presented as.
 */
import { createLocalJWKSet, errors as joseErrors, type JWTPayload } from 'jose';
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Agent } from '../../register/index.js';
import { verifyJwt, type JwtKeyResolver } from '../../identity/index.js';
import type { ClientAssertionsTable, Database } from '../../storage/index.js';

/** Assertions valid for longer than this are refused, which bounds how long their `jti`s must be remembered. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const ASSERTION_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'];

export interface AgentAssertionDeps {
  db: Kysely<Database>;
  /** Values the assertion's `aud` may hold: the token endpoint URL and the issuer identifier. */
  audiences: string[];
  clockSkewSeconds: number;
  now: () => number;
}

export type AgentAssertionResult = { ok: true; payload: JWTPayload } | { ok: false; reason: string; replayed?: boolean };

/** The unverified `iss` of a JWT: it only chooses whose keys to try. */
export function unverifiedIssuer(jwt: string): string | undefined {
  try {
    const payload = jwt.split('.')[1] ?? '';
    const iss = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * jose key sets by JWKS content. A key set imports each key once and keeps it; built anew per assertion, it imported
 * the agent's key on every exchange. Keyed by the JWKS text, an edited JWKS is a new entry, never a stale one.
 */
const keySets = new Map<string, JwtKeyResolver>();
const KEY_SETS_MAX = 1_000;

function keySetOf(jwks: Agent['jwks']): JwtKeyResolver {
  const text = JSON.stringify(jwks);
  let set = keySets.get(text);
  if (set === undefined) {
    set = createLocalJWKSet(JSON.parse(text) as Agent['jwks']);
    if (keySets.size >= KEY_SETS_MAX) keySets.delete(keySets.keys().next().value as string);
    keySets.set(text, set);
  }
  return set;
}

/** The record that spends an assertion's `jti`: written once, refused (primary key) the second time. */
export interface AssertionSpend {
  key: string;
  jti: string;
  expiresAt: number;
}

export type CheckedAssertion = { ok: true; payload: JWTPayload; spend: AssertionSpend } | { ok: false; reason: string; replayed?: boolean };

export async function verifyAgentAssertion(jwt: string, agent: Agent, deps: AgentAssertionDeps): Promise<AgentAssertionResult> {
  const checked = await checkAgentAssertion(jwt, agent, deps);
  if (!checked.ok) return checked;
  if (!(await spendAssertion(deps.db, checked.spend))) return replayed(checked.spend);
  return { ok: true, payload: checked.payload };
}

/**
 * Everything verifyAgentAssertion checks except spending the `jti`: the caller spends it later (spendAssertion, or
 * with the rows it writes: mintTaskToken). A `jti` already spent is refused here as replayed.
 */
export async function checkUnspentAgentAssertion(jwt: string, agent: Agent, deps: AgentAssertionDeps): Promise<CheckedAssertion> {
  const checked = await checkAgentAssertion(jwt, agent, deps);
  if (!checked.ok) return checked;
  const spent = await deps.db.selectFrom('client_assertions').select('key').where('key', '=', checked.spend.key).executeTakeFirst();
  return spent === undefined ? checked : replayed(checked.spend);
}

async function checkAgentAssertion(jwt: string, agent: Agent, deps: AgentAssertionDeps): Promise<CheckedAssertion> {
  if (agent.jwks.keys.length === 0) return { ok: false, reason: `agent ${agent.id} has no registered keys` };
  const nowSec = Math.floor(deps.now() / 1000);
  let payload: JWTPayload;
  try {
    ({ payload } = await verifyJwt(jwt, keySetOf(agent.jwks), {
      issuer: agent.id,
      subject: agent.id,
      audience: deps.audiences,
      algorithms: ASSERTION_ALGS,
      clockTolerance: deps.clockSkewSeconds,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(deps.now()),
    }));
  } catch (err) {
    return { ok: false, reason: err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : String(err) };
  }
  const exp = payload.exp as number;
  if (exp - nowSec > MAX_ASSERTION_LIFETIME_SECONDS) return { ok: false, reason: `lifetime too long: exp ${exp - nowSec}s ahead` };
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) return { ok: false, reason: 'jti invalid' };
  return {
    ok: true,
    payload,
    spend: { key: `${agent.id} ${payload.jti}`, jti: payload.jti, expiresAt: (exp + deps.clockSkewSeconds) * 1000 },
  };
}

function replayed(spend: AssertionSpend): { ok: false; reason: string; replayed: true } {
  return { ok: false, reason: `jti ${spend.jti} replayed`, replayed: true };
}

/** Spends the `jti`; false when it was already spent. */
export async function spendAssertion(db: Kysely<Database> | Transaction<Database>, spend: AssertionSpend): Promise<boolean> {
  try {
    await db.insertInto('client_assertions').values(assertionSpendRow(spend)).execute();
    return true;
  } catch (err) {
    if (isAlreadySpent(err)) return false;
    throw err;
  }
}

/** The row that spends the `jti`, for a caller that writes it with rows of its own: a spent `jti` fails its key (isAlreadySpent). */
export function assertionSpendRow(spend: AssertionSpend): Insertable<ClientAssertionsTable> {
  return { key: spend.key, expires_at: spend.expiresAt };
}

export function isAlreadySpent(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
