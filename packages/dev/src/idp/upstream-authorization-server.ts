/**
 * An upstream's own OAuth authorization server and the API it protects, as GitHub, Google or an internal platform
 * would run them — for the vault's minted credentials (tests, benchmarks and `writ dev`). The authorization server is
 * a real `oidc-provider` 8 on loopback (client credentials, token revocation and introspection); the API accepts only
 * tokens that server says are active, finds out whose they are by introspection (RFC 7662), and answers with what it
 * saw, so a test can prove which principal reached the upstream.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import Provider from 'oidc-provider';
import { handleInteraction, INTERACTION_PATH, type InteractionAccount } from './interaction.js';
import { memoryAdapter } from './memory-adapter.js';

export interface UpstreamClient {
  client_id: string;
  /** For `client_secret_basic` / `client_secret_post`. */
  client_secret?: string;
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** Public keys, for `private_key_jwt`. */
  jwks?: { keys: Record<string, unknown>[] };
  /** The scopes this client may ask for. */
  scope?: string;
}

/** What the protected API saw on one request. */
export interface UpstreamApiRequest {
  path: string;
  /** The token it was given (tests compare it with what the agent saw: it must never appear there). */
  token: string | undefined;
  /** Introspection's answer: `active`, `client_id`, `sub`, `scope`. */
  introspection: Record<string, unknown> | undefined;
}

export interface UpstreamAuthorizationServer {
  issuer: string;
  tokenEndpoint: string;
  authorizationEndpoint: string;
  /** RFC 7009. */
  revocationEndpoint: string;
  /**
   * RFC 8693 token exchange for assertions of the trusted issuer (`trustAssertionsFrom`): `sub` becomes the token's
   * subject and `act` its actor. Served beside oidc-provider, which has no token exchange of its own.
   */
  tokenExchangeEndpoint: string;
  /** Token exchanges refused, with the reason (tests assert on attacks). */
  exchangeRefusals: string[];
  /** Token requests received, by grant type. */
  tokenRequests: { total: number; byClient: Map<string, number> };
  /** The protected API: `GET /whoami` answers `{ client_id, sub, scope }` of the token, 401 without an active one. */
  apiUrl: string;
  apiRequests: UpstreamApiRequest[];
  /** RFC 7662 introspection, as the API does it: `active`, and whose the token is. */
  introspect(token: string): Promise<Record<string, unknown>>;
  /** Revokes a token at the authorization server (RFC 7009), as the client that holds it. */
  revoke(token: string, client: { id: string; secret: string }): Promise<void>;
  close(): Promise<void>;
}

const INTROSPECTOR = { id: 'upstream-api', secret: randomBytes(24).toString('base64url') };

/**
 * @example
 * const as = await startUpstreamAuthorizationServer({ clients: [{ client_id: 'writ', client_secret: 's', scope: 'read' }] });
 * await admin.put('/secrets/api', { kind: 'oauth_client_credentials', tokenEndpoint: as.tokenEndpoint, clientId: 'writ', clientSecret: 's' });
 */
export async function startUpstreamAuthorizationServer(o: {
  clients: UpstreamClient[];
  scopes?: string[];
  /** Lifetime of client-credentials tokens, seconds (default 600). */
  tokenTtlSeconds?: number;
  /** Whose assertions the token exchange endpoint accepts: an issuer and its JWKS (Writ's). */
  trustAssertionsFrom?: { issuer: string; jwksUri: string };
  /** Loopback ports of the authorization server and of the API (default: any free ones). */
  port?: number;
  apiPort?: number;
  /** People with an account here, for authorization code flows (connected accounts): they sign in on its own page. */
  accounts?: InteractionAccount[];
  /**
   * Confidential clients of the authorization code flow, with refresh tokens (rotated on every use) and automatic
   * consent: the one Writ is, for connected accounts.
   */
  codeClients?: Array<{ client_id: string; client_secret: string; redirect_uris: string[]; scope?: string }>;
}): Promise<UpstreamAuthorizationServer> {
  const asServer = createServer();
  await listen(asServer, o.port);
  const issuer = `http://127.0.0.1:${(asServer.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const accounts = new Map((o.accounts ?? []).map((a) => [a.username, a]));
  const codeClientIds = (o.codeClients ?? []).map((c) => c.client_id);
  const provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    clients: [
      ...(o.codeClients ?? []).map((c) => ({
        ...c,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      ...o.clients.map((c) => ({
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
        ...c,
      })),
      { client_id: INTROSPECTOR.id, client_secret: INTROSPECTOR.secret, grant_types: [], response_types: [], redirect_uris: [] },
    ],
    // Its only key is ES256 (oidc-provider's default for ID tokens is RS256).
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    scopes: ['openid', ...(o.scopes ?? ['read:projects', 'write:projects'])],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'upstream-as', alg: 'ES256', use: 'sig' }] },
    // Its own cookie names: a browser keeps cookies per host, not per port, and Writ's sign-in provider runs on the
    // same loopback host.
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      names: { session: 'upstream_session', interaction: 'upstream_interaction', resume: 'upstream_resume', state: 'upstream_state' },
    },
    findAccount: (_ctx: unknown, id: string) => (accounts.has(id) ? { accountId: id, claims: () => ({ sub: id }) } : undefined),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${INTERACTION_PATH}${interaction.uid}` },
    // Refresh tokens for every code client that may use them (no `prompt=consent` dance), rotated on each use.
    issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: { enabled: false },
    },
    ttl: { ClientCredentials: o.tokenTtlSeconds ?? 600, AccessToken: 600, Interaction: 600, Session: 600, Grant: 600, IdToken: 600 },
  });
  const callback = provider.callback();
  const tokenRequests = { total: 0, byClient: new Map<string, number>() };
  const exchanged = new Map<string, { sub: string; act: unknown; client_id: string; scope: string | null; exp: number }>();
  const exchangeRefusals: string[] = [];
  const trusted = o.trustAssertionsFrom;
  const trustedKeys = trusted === undefined ? undefined : createRemoteJWKSet(new URL(trusted.jwksUri));
  const clientSecrets = new Map(o.clients.map((c) => [c.client_id, c.client_secret]));
  const exchange = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const answer = (status: number, body: Record<string, unknown>): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    };
    const refuse = (status: number, error: string, why: string): void => {
      exchangeRefusals.push(why);
      answer(status, { error });
    };
    tokenRequests.total++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString());
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic === undefined ? [] : Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
    tokenRequests.byClient.set(id ?? '', (tokenRequests.byClient.get(id ?? '') ?? 0) + 1);
    if (id === undefined || secret === undefined || clientSecrets.get(id) !== secret)
      return refuse(401, 'invalid_client', 'client authentication');
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange') return refuse(400, 'unsupported_grant_type', 'grant');
    if (form.get('subject_token_type') !== 'urn:ietf:params:oauth:token-type:jwt')
      return refuse(400, 'invalid_request', 'subject_token_type');
    if (trusted === undefined || trustedKeys === undefined) return refuse(400, 'invalid_grant', 'no trusted issuer');
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(form.get('subject_token') ?? '', trustedKeys, {
        issuer: trusted.issuer,
        audience: `${issuer}/token-exchange`,
        algorithms: ['ES256'],
        maxTokenAge: 120,
      }));
    } catch (err) {
      return refuse(400, 'invalid_grant', `subject_token: ${(err as Error).message}`);
    }
    const act = claims['act'] as { sub?: unknown } | undefined;
    if (typeof claims['sub'] !== 'string' || typeof act?.sub !== 'string') return refuse(400, 'invalid_grant', 'sub and act.sub required');
    const token = randomBytes(32).toString('base64url');
    exchanged.set(token, { sub: claims['sub'], act, client_id: id, scope: form.get('scope'), exp: Date.now() + 600_000 });
    answer(200, {
      access_token: token,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 600,
      ...(form.get('scope') !== null ? { scope: form.get('scope') } : {}),
    });
  };
  asServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if ((req.url ?? '').startsWith(INTERACTION_PATH)) {
      handleInteraction(provider, req, res, accounts, codeClientIds).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
      });
      return;
    }
    if (req.method === 'POST' && (req.url ?? '').split('?')[0] === '/token-exchange') {
      exchange(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
      return;
    }
    if (req.method === 'POST' && (req.url ?? '').split('?')[0] === '/token') {
      tokenRequests.total++;
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const id = basic !== undefined ? decodeURIComponent(Buffer.from(basic, 'base64').toString().split(':')[0] ?? '') : '(in body)';
      tokenRequests.byClient.set(id, (tokenRequests.byClient.get(id) ?? 0) + 1);
    }
    callback(req, res);
  });

  const apiRequests: UpstreamApiRequest[] = [];
  const introspect = async (token: string): Promise<Record<string, unknown>> => {
    const own = exchanged.get(token);
    if (own !== undefined) return { active: own.exp > Date.now(), sub: own.sub, act: own.act, client_id: own.client_id, scope: own.scope };
    const res = await fetch(`${issuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${INTROSPECTOR.id}:${INTROSPECTOR.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }).toString(),
    });
    return (await res.json()) as Record<string, unknown>;
  };
  const api = createServer((req, res) => {
    void (async () => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const introspection = token === undefined ? undefined : await introspect(token);
      apiRequests.push({ path, token, introspection });
      if (introspection?.['active'] !== true) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' });
        res.end('{"error":"invalid_token"}');
        return;
      }
      const seen = {
        client_id: introspection['client_id'],
        sub: introspection['sub'] ?? null,
        act: introspection['act'] ?? null,
        scope: introspection['scope'] ?? null,
      };
      // An upstream that echoes the credential it was sent (the case Writ's scrubbing exists for).
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo-authorization': req.headers.authorization ?? '' });
      res.end(JSON.stringify({ ...seen, echo: req.headers.authorization }));
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await listen(api, o.apiPort);

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    authorizationEndpoint: `${issuer}/auth`,
    revocationEndpoint: `${issuer}/token/revocation`,
    tokenExchangeEndpoint: `${issuer}/token-exchange`,
    exchangeRefusals,
    tokenRequests,
    apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
    apiRequests,
    introspect,
    async revoke(token, client) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }).toString(),
      });
      if (res.status !== 200) throw new Error(`revocation answered ${res.status}`);
    },
    async close() {
      for (const s of [asServer, api]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}

function listen(server: Server, port = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
}
