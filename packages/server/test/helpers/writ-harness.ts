/**
 * A whole Writ on loopback for end-to-end tests: the real server on a real store (SQLite or PostgreSQL), a real
 * OpenID provider for users, a recording upstream, and helpers to register agents and get task tokens through the
 * agent SDK. The clock is Writ's own, movable, so expiry is tested without waiting.
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import type { CryptoKey, JWK } from 'jose';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, PATHS, TOKEN_TYPE, type TaskAuthorizationDetail } from '@writ/protocol';
import { createClientAssertion, createDpopProof, type WritAgent, type DpopKey } from '@writ/agent';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger, type Logger } from '../../src/observability/index.js';
import { startWritServer, type WritServer } from '../../src/server/index.js';
import { AdminClient } from '../../src/admin-client/index.js';
import { startDevIdentityProvider } from '@writ/dev';
import { agentKeys, registerAgentKeys, seedWrit, writAgent } from '@writ/dev/kit';
import type { StoreKind, TestStore } from './stores.js';
import { startRecordingUpstream, type RecordingUpstream } from './recording-upstream.js';
import { postTokenRequest, type TokenEndpointAnswer } from './token-request.js';

export class TestClock {
  #offset = 0;
  now = (): number => Date.now() + this.#offset;
  advance(seconds: number): void {
    this.#offset += seconds * 1000;
  }
}

export interface TestAgent {
  id: string;
  clientKey: CryptoKey;
  publicJwk: JWK & { kid: string };
  sdk: WritAgent;
  dpopKey: DpopKey;
}

export interface Harness {
  writ: WritServer;
  store: TestStore;
  admin: AdminClient;
  adminToken: string;
  kek: string;
  clock: TestClock;
  upstream: RecordingUpstream;
  idp: Awaited<ReturnType<typeof startDevIdentityProvider>>;
  resourceUri(id: string): string;
  /** `${publicUrl}/mcp/{id}`: an MCP resource's endpoint, its token audience. */
  mcpUri(id: string): string;
  userToken(username: 'alice' | 'bob'): Promise<string>;
  registerAgent(id: string): Promise<TestAgent>;
  startTask(
    agent: TestAgent,
    opts: { user?: 'alice' | 'bob'; resource?: string; resourceUri?: string; details: TaskAuthorizationDetail[]; purpose?: string },
  ): ReturnType<WritAgent['startTask']>;
  /** Restart Writ on the same store (durability tests); `env` adds to or replaces its environment (a new KEK …). */
  restart(o?: { env?: Record<string, string> }): Promise<void>;
  close(): Promise<void>;
}

/** Tests run every upstream, receiver and identity provider on loopback, which the egress rules refuse by default. */
export const LOOPBACK_EGRESS = ['127.0.0.0/8', '::1'];

export const DEFAULT_GRANT = `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && ["GET", "POST"].contains(context.method) && context.path like "/v1/*" };`;

export async function startHarness(
  kind: StoreKind,
  opts: { grant?: string; config?: Record<string, unknown>; logger?: Logger } = {},
): Promise<Harness> {
  const store = await kind.open();
  const clock = new TestClock();
  const kek = randomBytes(32).toString('base64');
  const adminToken = `test_admin_${randomBytes(16).toString('hex')}`;
  const idp = await startDevIdentityProvider({ host: '127.0.0.1', port: 0 });
  const upstream = await startRecordingUpstream();
  const config = loadConfig({
    file: null,
    env: { WRIT_KEK: kek, WRIT_ADMIN_TOKEN: adminToken },
    overrides: { 'server.port': 0, 'log.level': 'silent', 'audit.flushIntervalMs': 5, 'egress.allow': LOOPBACK_EGRESS, ...opts.config },
  });
  // A restart that fails to start (a test of a wrong KEK) leaves nothing running to close.
  let closed = false;
  let writ = await startWritServer({ config, logger: opts.logger ?? silentLogger(), now: clock.now, store });
  let admin = new AdminClient(writ.url, adminToken);
  await seedWrit(admin, { idp, upstream: upstream.url, grant: { id: 'default', policy: opts.grant ?? DEFAULT_GRANT } });
  const tokens = new Map<string, string>();
  const agents: TestAgent[] = [];

  const h: Harness = {
    get writ() {
      return writ;
    },
    store,
    get admin() {
      return admin;
    },
    adminToken,
    kek,
    clock,
    upstream,
    idp,
    resourceUri: (id) => `${writ.publicUrl}/r/${id}`,
    mcpUri: (id) => `${writ.publicUrl}/mcp/${id}`,
    async userToken(username) {
      const cached = tokens.get(username);
      if (cached !== undefined) return cached;
      const account = idp.accounts.find((a) => a.username === username);
      const { idToken } = await idp.loginAs(username, account?.password);
      tokens.set(username, idToken);
      return idToken;
    },
    async registerAgent(id) {
      const keys = await agentKeys();
      await registerAgentKeys(admin, id, keys);
      const agent = {
        id,
        clientKey: keys.clientKey,
        publicJwk: keys.clientJwk,
        sdk: writAgent(writ.publicUrl, id, keys),
        dpopKey: keys.dpopKey,
      };
      agents.push(agent);
      return agent;
    },
    async startTask(agent, o) {
      return agent.sdk.startTask({
        subjectToken: await h.userToken(o.user ?? 'alice'),
        subjectTokenType: TOKEN_TYPE.idToken,
        resource: o.resourceUri ?? h.resourceUri(o.resource ?? 'api'),
        authorizationDetails: o.details,
        purpose: o.purpose ?? 'test',
      });
    },
    async restart(o = {}) {
      // Same port, so the issuer and resource URIs — and so the tokens already issued — stay the same.
      const port = Number(new URL(writ.url).port);
      if (!closed) await writ.close();
      closed = true;
      const again = loadConfig({
        file: null,
        env: { WRIT_KEK: kek, WRIT_ADMIN_TOKEN: adminToken, ...o.env },
        overrides: {
          'server.port': port,
          'log.level': 'silent',
          'audit.flushIntervalMs': 5,
          'egress.allow': LOOPBACK_EGRESS,
          ...opts.config,
        },
      });
      writ = await startWritServer({ config: again, logger: opts.logger ?? silentLogger(), now: clock.now, store });
      closed = false;
      admin = new AdminClient(writ.url, adminToken);
    },
    async close() {
      if (!closed) await writ.close();
      await idp.close();
      await upstream.close();
      await store.dispose();
    },
  };
  return h;
}

/**
 * The harness of one store-parameterised suite: started before its tests, closed after them (before the suite's own
 * `after` hooks, which are registered later). What it returns forwards to the running harness, so a suite writes
 * `const h = useHarness(kind)` and then `h.admin`, with no `let` and no hook pair of its own.
 */
export function useHarness(kind: StoreKind, opts: { grant?: string; config?: Record<string, unknown>; logger?: Logger } = {}): Harness {
  let current: Harness | undefined;
  before(async () => {
    current = await startHarness(kind, opts);
  });
  after(async () => {
    await current?.close();
  });
  return new Proxy({} as Harness, {
    get(_target, prop) {
      if (current === undefined) throw new Error(`harness.${String(prop)} used before the suite started`);
      return Reflect.get(current, prop, current) as unknown;
    },
  });
}

/**
 * A raw token exchange by `agent` for alice, GET /v1/* on `api`, authenticated and with a fresh proof as the SDK
 * would send it; `fields` replace or add parameters. For tests that must see the endpoint's exact answer.
 */
export async function postAgentExchange(h: Harness, agent: TestAgent, fields: Record<string, string> = {}): Promise<TokenEndpointAnswer> {
  const endpoint = `${h.writ.publicUrl}${PATHS.token}`;
  return postTokenRequest(
    endpoint,
    {
      subject_token: await h.userToken('alice'),
      subject_token_type: TOKEN_TYPE.idToken,
      resource: h.resourceUri('api'),
      authorization_details: JSON.stringify([{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }]),
      client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
      client_assertion: await createClientAssertion({
        clientId: agent.id,
        audience: endpoint,
        key: agent.clientKey,
        kid: agent.publicJwk.kid,
      }),
      ...fields,
    },
    await createDpopProof(agent.dpopKey, { htm: 'POST', htu: endpoint }),
  );
}

/**
 * Registers HTTP resource `id` at `baseUrl`, injecting vault secret `secretId` as a bearer token, and a grant that
 * lets agent-a call it (any user, any path): the setup of every test of a secret kind.
 */
export async function registerBearerResource(h: Harness, id: string, baseUrl: string, secretId: string): Promise<void> {
  await h.admin.post('/resources', { id, baseUrl, secretId, inject: { mode: 'bearer' } });
  await h.admin.post('/grants', {
    id,
    policy: `permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"${id}");`,
  });
}
