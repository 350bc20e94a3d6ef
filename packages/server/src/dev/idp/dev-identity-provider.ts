/**
 * The development identity provider that only `writ dev` (and the tests) start: a real OpenID provider
 * (`oidc-provider`) on loopback, which Writ trusts exactly like an external one — by issuer, discovery and audience.
 * It has dev accounts with passwords, a login page, auto-consent for the demo client, and `loginAs`, which signs a
 * user in through the real authorization code + PKCE flow the way a browser would (openid-client on the client side).
 *
 * Its grants and sessions live in an in-memory adapter (memory-adapter.ts): fine for a dev provider that lives as long as
 * `writ dev`, never for production (Writ trusts external providers only in production).
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';
import * as oidc from 'openid-client';
import Provider from 'oidc-provider';
import { memoryAdapter } from './memory-adapter.js';

export interface DevAccount {
  username: string;
  password: string;
  name: string;
  email: string;
}

export interface DevIdentityProvider {
  issuer: string;
  clientId: string;
  /** What Writ must require as the `aud` of this provider's ID tokens: the client id. */
  audience: string;
  jwksUri: string;
  accounts: DevAccount[];
  /** Signs `username` in through authorization code + PKCE and returns the tokens. */
  loginAs(
    username: string,
    password?: string,
  ): Promise<{ idToken: string; accessToken: string | undefined; claims: Record<string, unknown> }>;
  close(): Promise<void>;
}

export interface DevIdentityProviderOptions {
  host?: string;
  port?: number;
  accounts?: Array<Omit<DevAccount, 'password'> & { password?: string }>;
  clientId?: string;
}

const DEFAULT_ACCOUNTS = [
  { username: 'alice', name: 'Alice Example', email: 'alice@example.com' },
  { username: 'bob', name: 'Bob Example', email: 'bob@example.com' },
];

export async function startDevIdentityProvider(opts: DevIdentityProviderOptions = {}): Promise<DevIdentityProvider> {
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost')
    throw new TypeError('the dev identity provider listens on loopback only');
  const given: Array<Omit<DevAccount, 'password'> & { password?: string }> = opts.accounts ?? DEFAULT_ACCOUNTS;
  const accounts: DevAccount[] = given.map((a) => ({ ...a, password: a.password ?? randomBytes(9).toString('base64url') }));
  const clientId = opts.clientId ?? 'writ-demo';
  // The redirect target is never served: the scripted browser stops at the redirect and reads the code from it.
  const redirectUri = 'http://127.0.0.1/writ-dev-callback';

  // The provider needs its issuer URL, which needs the port: listen first, route once the provider exists.
  const route: { handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  const server = createServer((req, res) => (route.handler !== undefined ? route.handler(req, res) : res.writeHead(503).end()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const es = await generateKeyPair('ES256', { extractable: true });
  const rs = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const esJwk = await exportJWK(es.privateKey);
  const rsJwk = await exportJWK(rs.privateKey);
  const keys = [
    { ...esJwk, alg: 'ES256', use: 'sig', kid: await calculateJwkThumbprint(await exportJWK(es.publicKey)) },
    { ...rsJwk, alg: 'RS256', use: 'sig', kid: await calculateJwkThumbprint(await exportJWK(rs.publicKey)) },
  ];
  const byUsername = new Map(accounts.map((a) => [a.username, a]));
  const provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    clients: [
      {
        client_id: clientId,
        token_endpoint_auth_method: 'none',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: (_ctx: unknown, id: string) => {
      const a = byUsername.get(id);
      return a === undefined
        ? undefined
        : { accountId: id, claims: () => ({ sub: id, name: a.name, email: a.email, email_verified: true }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: { IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60 },
    renderError: (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>error</title><pre>${escapeHtml(JSON.stringify(out))}</pre>`;
    },
  });
  const callback = provider.callback();

  route.handler = (req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith('/interaction/')) {
      callback(req, res);
      return;
    }
    void interaction(provider, req, res, byUsername, clientId).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(`interaction failed: ${(err as Error).message}`);
    });
  };

  let configPromise: Promise<oidc.Configuration> | undefined;
  const configuration = (): Promise<oidc.Configuration> =>
    (configPromise ??= oidc.discovery(new URL(issuer), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] }));

  return {
    issuer,
    clientId,
    audience: clientId,
    jwksUri: `${issuer}/jwks`,
    accounts,
    async loginAs(username, password) {
      const account = byUsername.get(username);
      const config = await configuration();
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const authUrl = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      });
      const browser = new ScriptedBrowser();
      // Follow redirects until the provider shows the login form, then submit it and follow on to the callback.
      let location = await browser.follow(authUrl.toString(), redirectUri);
      if (location.startsWith(redirectUri)) throw new Error('unexpected: signed in without a login');
      const form = await browser.get(location);
      const action = /action="([^"]+)"/.exec(form)?.[1];
      if (action === undefined) throw new Error('login form not found');
      location = await browser.post(
        new URL(action, issuer).toString(),
        { username, password: password ?? account?.password ?? '' },
        redirectUri,
      );
      if (!location.startsWith(redirectUri)) throw new Error(`login failed for ${username}`);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: verifier, expectedState: state });
      if (tokens.id_token === undefined) throw new Error('no ID token');
      return { idToken: tokens.id_token, accessToken: tokens.access_token, claims: tokens.claims() ?? {} };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function interaction(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  accounts: Map<string, DevAccount>,
  demoClient: string,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    // Auto-consent for the demo client only: it is the dev provider's own client.
    if (details.params.client_id !== demoClient) throw new Error('consent is automatic only for the demo client');
    const accountId = details.session?.accountId;
    if (accountId === undefined) throw new Error('no session');
    const grant = new provider.Grant({ accountId, clientId: demoClient });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'POST') {
    const body = new URLSearchParams(await readBody(req));
    const account = accounts.get(body.get('username') ?? '');
    const given = createHash('sha256')
      .update(body.get('password') ?? '')
      .digest();
    const expected = createHash('sha256')
      .update(account?.password ?? randomBytes(16).toString('hex'))
      .digest();
    if (account === undefined || !timingSafeEqual(given, expected)) {
      res.writeHead(401, { 'content-type': 'text/html' }).end(loginPage(details.uid, 'wrong username or password'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account.username } }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(loginPage(details.uid));
}

function loginPage(uid: string, error?: string): string {
  return `<!doctype html><meta charset="utf-8"><title>Writ dev sign-in</title>
<h1>Writ dev identity provider</h1>${error !== undefined ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}"><label>user <input name="username" autofocus></label>
<label>password <input name="password" type="password"></label><button>Sign in</button></form>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 16 * 1024) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Just enough of a browser: a cookie jar and manual redirects, stopping at the client's redirect URI. */
class ScriptedBrowser {
  readonly #cookies = new Map<string, string>();

  async get(url: string): Promise<string> {
    const res = await fetch(url, { redirect: 'manual', headers: this.#headers() });
    this.#store(res);
    return res.text();
  }

  async post(url: string, form: Record<string, string>, stopAt: string): Promise<string> {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...this.#headers(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    this.#store(res);
    await res.body?.cancel();
    const next = res.headers.get('location');
    if (next === null) return url;
    return this.follow(new URL(next, url).toString(), stopAt);
  }

  /** Follows redirects from `url`; returns the first URL that is not a redirect, or that starts with `stopAt`. */
  async follow(url: string, stopAt: string): Promise<string> {
    let current = url;
    for (let hops = 0; hops < 10; hops++) {
      if (current.startsWith(stopAt)) return current;
      const res = await fetch(current, { redirect: 'manual', headers: this.#headers() });
      this.#store(res);
      const next = res.headers.get('location');
      await res.body?.cancel();
      if (res.status < 300 || res.status >= 400 || next === null) return current;
      current = new URL(next, current).toString();
    }
    throw new Error('too many redirects');
  }

  #headers(): Record<string, string> {
    return this.#cookies.size === 0 ? {} : { cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  #store(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair === undefined || eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}
