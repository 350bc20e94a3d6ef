/**
 * The stock OAuth clients Writ knows, each an agent in the register (kind `oauth_client`, with the owner and the
 * status the configuration gives self-registered clients), found by `client_id`:
 * - a Client ID Metadata Document: `client_id` is an https URL; Writ fetches it through the egress guard (no private
 *   addresses unless allowed), bounded in size and time, no redirects, and accepts it only if its `client_id` is that
 *   URL exactly; a fetched document is reused for `metadataDocuments.cacheSeconds`, then fetched again;
 * - a client registered by RFC 7591 (client_id = its agent id).
 * A client's own name is what it says about itself, so it is always shown as unverified.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { fetchBounded } from '@writ/verify/internal';
import { AdminError, RegistrationError } from '../errors/index.js';
import type { Agent, Register } from '../register/index.js';
import type { AuditPort } from '../audit/index.js';
import { isUniqueViolation, type Database, type OAuthClientRow } from '../storage/index.js';
import { clientMetadataSchema, displayText, unsupportedMetadata, type ClientMetadata } from './client-metadata.js';
import { redirectUriProblem } from './redirect-uris.js';
import type { AuthorizationSettings } from './settings.js';

export interface OAuthClient {
  clientId: string;
  agent: Agent;
  source: OAuthClientRow['source'];
  /** The client's name, as it gave it (printable text only). */
  name: string;
  redirectUris: string[];
}

/** Why a `client_id` names no usable client: shown on the error page (never redirected), `detail` audited. */
export class ClientProblem extends Error {
  readonly description: string;
  readonly detail: string;
  constructor(description: string, detail: string) {
    super(`${description} (${detail})`);
    this.name = 'ClientProblem';
    this.description = description;
    this.detail = detail;
  }
}

export interface ClientRegistryDeps {
  db: Kysely<Database>;
  register: Pick<Register, 'createClientAgent' | 'findAgent'>;
  settings: Pick<AuthorizationSettings, 'metadataDocuments' | 'registration'>;
  /** The egress-guarded fetch: where Writ may connect on a stranger's say-so. */
  fetch: typeof fetch;
  audit: AuditPort;
  now: () => number;
}

export class ClientRegistry {
  readonly #d: ClientRegistryDeps;
  /** One fetch per document at a time: concurrent first sign-ins of one client wait for the same answer. */
  readonly #inFlight = new Map<string, Promise<OAuthClient>>();

  constructor(deps: ClientRegistryDeps) {
    this.#d = deps;
  }

  async resolve(clientId: string): Promise<OAuthClient> {
    if (clientId.startsWith('https://')) {
      if (!this.#d.settings.metadataDocuments.enabled) throw new ClientProblem('unknown client', 'metadata documents are not accepted');
      const row = await this.#row(clientId);
      if (row !== undefined && this.#d.now() - row.fetched_at < this.#d.settings.metadataDocuments.cacheSeconds * 1000) {
        return this.#client(row);
      }
      let p = this.#inFlight.get(clientId);
      if (p === undefined) {
        p = this.#fetchDocument(clientId, row).finally(() => this.#inFlight.delete(clientId));
        this.#inFlight.set(clientId, p);
      }
      return p;
    }
    const row = await this.#row(clientId);
    if (row === undefined || row.source !== 'registration')
      throw new ClientProblem('unknown client', `no client ${clientId.slice(0, 200)}`);
    return this.#client(row);
  }

  /** RFC 7591 §3: register a public client; the answer is §3.2.1's. */
  async registerClient(body: unknown): Promise<Record<string, unknown>> {
    const parsed = clientMetadataSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const onRedirects = issue?.path[0] === 'redirect_uris';
      throw new RegistrationError(
        onRedirects ? 'invalid_redirect_uri' : 'invalid_client_metadata',
        onRedirects ? 'redirect_uris are invalid' : 'client metadata is invalid',
        { detail: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}` },
      );
    }
    const m = parsed.data;
    const unsupported = unsupportedMetadata(m);
    if (unsupported !== undefined) throw new RegistrationError('invalid_client_metadata', unsupported);
    const agentId = newClientAgentId();
    const now = this.#d.now();
    const name = displayText(m.client_name ?? '') || 'unnamed client';
    const agent = await this.#createAgent(agentId, agentId, 'registration', name, m, now);
    this.#d.audit.record({
      type: 'client.registered',
      agent_id: agent.id,
      decision: 'allow',
      reason: 'registration',
      data: { client_id: agentId, redirect_uris: m.redirect_uris, status: agent.status, client_name: name },
    });
    return {
      ...m,
      client_id: agentId,
      client_id_issued_at: Math.floor(now / 1000),
      client_name: name,
      token_endpoint_auth_method: 'none',
      grant_types: m.grant_types ?? ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }

  async #fetchDocument(url: string, cached: OAuthClientRow | undefined): Promise<OAuthClient> {
    const why = metadataUrlProblem(url);
    if (why !== undefined) throw new ClientProblem('invalid client_id', `metadata document URL ${why}`);
    const o = this.#d.settings.metadataDocuments;
    let text: string;
    try {
      const answer = await fetchBounded(url, {
        fetch: this.#d.fetch,
        timeoutMs: o.timeoutMs,
        maxBytes: o.maxBytes,
        init: { headers: { accept: 'application/json' } },
      });
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      text = answer.text;
    } catch (err) {
      throw new ClientProblem('the client metadata document could not be fetched', `${url}: ${describe(err)}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new ClientProblem('the client metadata document is invalid', `${url}: not JSON`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ClientProblem('the client metadata document is invalid', `${url}: not a JSON object`);
    }
    const raw = doc as Record<string, unknown>;
    if (raw['client_id'] !== url) {
      throw new ClientProblem('the client metadata document is invalid', `its client_id ${JSON.stringify(raw['client_id'])} is not ${url}`);
    }
    // A document anyone can read cannot hold a shared secret (draft-ietf-oauth-client-id-metadata-document §4.1).
    if ('client_secret' in raw || 'client_secret_expires_at' in raw) {
      throw new ClientProblem('the client metadata document is invalid', `${url}: holds a client secret`);
    }
    const parsed = clientMetadataSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ClientProblem('the client metadata document is invalid', `${url}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
    }
    const unsupported = unsupportedMetadata(parsed.data);
    if (unsupported !== undefined) throw new ClientProblem('the client metadata document is invalid', `${url}: ${unsupported}`);
    const m = parsed.data;
    const name = displayText(m.client_name ?? '') || new URL(url).host;
    const now = this.#d.now();
    if (cached !== undefined) {
      await this.#d.db
        .updateTable('oauth_clients')
        .set({ client_name: name, redirect_uris: JSON.stringify(m.redirect_uris), metadata: JSON.stringify(m), fetched_at: now })
        .where('client_id', '=', url)
        .execute();
      return this.#client({ ...cached, client_name: name, redirect_uris: JSON.stringify(m.redirect_uris), fetched_at: now });
    }
    try {
      const agent = await this.#createAgent(newClientAgentId(), url, 'metadata_document', name, m, now);
      this.#d.audit.record({
        type: 'client.registered',
        agent_id: agent.id,
        decision: 'allow',
        reason: 'metadata_document',
        data: { client_id: url, redirect_uris: m.redirect_uris, status: agent.status, client_name: name },
      });
    } catch (err) {
      // Another node registered the same document between our read and our write: theirs stands.
      if (!(err instanceof AdminError && err.code === 'ERR_ADMIN_CONFLICT') && !isUniqueViolation(err)) throw err;
    }
    const row = await this.#row(url);
    if (row === undefined) throw new ClientProblem('unknown client', `${url}: not recorded`);
    return this.#client(row);
  }

  async #createAgent(
    agentId: string,
    clientId: string,
    source: OAuthClientRow['source'],
    name: string,
    m: ClientMetadata,
    now: number,
  ): Promise<Agent> {
    const s = this.#d.settings.registration;
    return this.#d.register.createClientAgent(
      {
        id: agentId,
        name,
        owner: s.owner,
        status: s.newClientStatus,
        description:
          source === 'metadata_document' ? `OAuth client ${clientId} (metadata document)` : 'OAuth client (dynamic registration)',
      },
      source === 'metadata_document' ? 'oauth:metadata-document' : 'oauth:registration',
      async (trx) => {
        await trx
          .insertInto('oauth_clients')
          .values({
            client_id: clientId,
            agent_id: agentId,
            source,
            client_name: name,
            redirect_uris: JSON.stringify(m.redirect_uris),
            metadata: JSON.stringify(m),
            fetched_at: now,
            created_at: now,
          })
          .execute();
      },
    );
  }

  async #row(clientId: string): Promise<OAuthClientRow | undefined> {
    if (clientId.length > 2000) return undefined;
    return this.#d.db.selectFrom('oauth_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
  }

  async #client(row: OAuthClientRow): Promise<OAuthClient> {
    const agent = await this.#d.register.findAgent(row.agent_id);
    if (agent === undefined) throw new ClientProblem('unknown client', `agent ${row.agent_id} of ${row.client_id} is gone`);
    return {
      clientId: row.client_id,
      agent,
      source: row.source,
      name: row.client_name,
      redirectUris: JSON.parse(row.redirect_uris) as string[],
    };
  }
}

/** draft-ietf-oauth-client-id-metadata-document §3: https, a path, no fragment, credentials or dot segments. */
export function metadataUrlProblem(value: string): string | undefined {
  if (value.length > 2000) return 'is too long';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return 'is not https';
  if (url.href !== value) return 'is not in canonical form';
  if (url.username !== '' || url.password !== '') return 'holds credentials';
  if (value.includes('#')) return 'has a fragment';
  if (url.pathname === '/' || url.pathname === '') return 'has no path';
  const rawPath = value.slice(value.indexOf('/', 'https://'.length)).split('?', 1)[0] ?? '';
  if (rawPath.split('/').some((seg) => seg === '.' || seg === '..' || /^%2e(%2e)?$/i.test(seg) || /^(\.|%2e)(\.|%2e)$/i.test(seg)))
    return 'has dot segments';
  return redirectUriProblem(value) !== undefined ? 'is not a valid URL' : undefined;
}

function newClientAgentId(): string {
  return `client-${randomBytes(8).toString('hex')}`;
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const base = err instanceof Error ? err.message : String(err);
  return cause instanceof Error ? `${base}: ${cause.message}` : base;
}
