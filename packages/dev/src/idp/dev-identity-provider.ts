/**
 * The development identity provider that only `writ dev` (and the tests) start: a real OpenID provider
 * (`oidc-provider` 8) on loopback, which Writ trusts exactly like an external one — by issuer, discovery and audience.
 * It has dev accounts with passwords, a login page, auto-consent for the demo client, and `loginAs`, which signs a
 * user in through the real authorization code + PKCE flow the way a browser would (openid-client on the client side).
 *
 * Its grants and sessions live in an in-memory adapter (memory-adapter.ts): fine for a provider that lives as long as
 * `writ dev`, never for production (in production Writ trusts external providers only).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import * as oidc from 'openid-client';
import Provider from 'oidc-provider';
import { isLoopbackHost } from '@writ/verify/internal';
import { escapeHtml, handleInteraction, INTERACTION_PATH } from './interaction.js';
import { memoryAdapter } from './memory-adapter.js';
import { ScriptedBrowser } from './scripted-browser.js';

export interface DevAccount {
  username: string;
  password: string;
  name: string;
  email: string;
  /** The `groups` claim (with the `profile` scope): what approvals' `group:<name>` approvers match. */
  groups: string[];
}

export type DevIdTokenAlg = 'ES256' | 'RS256';

export interface DevLoginResult {
  /** The ID token: what a user hands Writ as `subject_token` (type `...:id_token`). */
  idToken: string;
  /** oidc-provider's access token for its own userinfo endpoint — opaque, not something Writ accepts. */
  accessToken?: string;
  /** The ID token's claims (`sub`, `name`, `email`, `email_verified`, `iss`, `aud`, `exp`, …). */
  claims: Record<string, unknown>;
}

export interface DevIdentityProvider {
  /** `http://127.0.0.1:<port>` (or `http://[::1]:<port>`). */
  issuer: string;
  clientId: string;
  /** What Writ must require as the `aud` of this provider's ID tokens: the client id. */
  audience: string;
  jwksUri: string;
  redirectUri: string;
  /**
   * Writ's own client at this provider, for signing people in before they consent to a stock MCP client (Writ as
   * OpenID relying party): public, PKCE, redirect `http://127.0.0.1/oauth2/callback` on any port (RFC 8252 §7.3).
   */
  loginClientId: string;
  /** Usernames, passwords, names and emails — for `writ dev` to print. */
  accounts: DevAccount[];
  /** Signs `username` in through authorization code + PKCE; `password` defaults to the account's own. */
  loginAs(username: string, password?: string): Promise<DevLoginResult>;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

export interface DevIdentityProviderOptions {
  /** A loopback address: `127.0.0.1` (default), another 127.x.y.z, `::1`, or `localhost` (meaning 127.0.0.1). */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default: alice and bob. A missing password is generated (random, per start). */
  accounts?: Array<Omit<DevAccount, 'password' | 'groups'> & { password?: string; groups?: string[] }>;
  /** Default `writ-demo`. */
  clientId?: string;
  /** A loopback `http:` URL; never served. Default `http://127.0.0.1/writ-dev-callback`. */
  redirectUri?: string;
  /** Alg of the ID tokens. Both keys are always published. Default ES256. */
  idTokenSigningAlg?: DevIdTokenAlg;
}

const LOGIN_CLIENT_ID = 'writ-login';

const DEFAULT_ACCOUNTS: ReadonlyArray<Omit<DevAccount, 'password' | 'groups'> & { password?: string; groups?: string[] }> = [
  { username: 'alice', name: 'Alice Example', email: 'alice@example.com' },
  { username: 'bob', name: 'Bob Example', email: 'bob@example.com', groups: ['writ-auditors'] },
  { username: 'carol', name: 'Carol Example', email: 'carol@example.com', groups: ['secops'] },
  // The operator console's dev admin (`writ dev` maps the group `writ-admins` to the console's admin role).
  { username: 'dana', name: 'Dana Example', email: 'dana@example.com', groups: ['writ-admins'] },
];

export async function startDevIdentityProvider(opts: DevIdentityProviderOptions = {}): Promise<DevIdentityProvider> {
  const host = opts.host === undefined || opts.host === 'localhost' ? '127.0.0.1' : opts.host;
  if (host !== '::1' && !isLoopbackHost(host)) throw new TypeError(`the dev identity provider listens on loopback only, not ${host}`);
  const clientId = opts.clientId ?? 'writ-demo';
  const redirectUri = opts.redirectUri ?? 'http://127.0.0.1/writ-dev-callback';
  assertLoopbackRedirect(redirectUri);
  const idTokenAlg = opts.idTokenSigningAlg ?? 'ES256';
  const accounts = (opts.accounts ?? DEFAULT_ACCOUNTS).map((a) => ({
    username: a.username,
    password: a.password ?? randomBytes(12).toString('base64url'),
    name: a.name,
    email: a.email,
    groups: a.groups ?? [],
  }));
  const byUsername = new Map(accounts.map((a) => [a.username, a]));
  if (byUsername.size !== accounts.length) throw new TypeError('dev account usernames must be unique');

  // The provider needs its issuer URL, which needs the port: listen first, route once the provider exists.
  const route: { handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  const server = createServer((req, res) => (route.handler !== undefined ? route.handler(req, res) : res.writeHead(503).end()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  try {
    const provider = new Provider(issuer, {
      adapter: memoryAdapter(),
      clients: [
        {
          client_id: clientId,
          // A public client with PKCE, registered as native (RFC 8252): the demo is a program on the developer's
          // machine, where a client secret would protect nothing; PKCE binds the code to whoever started the flow.
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          id_token_signed_response_alg: idTokenAlg,
        },
        {
          client_id: LOGIN_CLIENT_ID,
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['http://127.0.0.1/oauth2/callback', 'http://[::1]/oauth2/callback'],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          id_token_signed_response_alg: idTokenAlg,
        },
      ],
      // Real keys generated per start: oidc-provider's built-in keys are public (and it warns about them).
      jwks: { keys: await signingKeys() },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      findAccount: (_ctx: unknown, id: string) => {
        const a = byUsername.get(id);
        return a === undefined
          ? undefined
          : {
              accountId: id,
              claims: () => ({
                sub: id,
                name: a.name,
                email: a.email,
                email_verified: true,
                ...(a.groups.length > 0 ? { groups: a.groups } : {}),
              }),
            };
      },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
      // Put name/email in the ID token even though an access token is issued too: the ID token is what Writ sees.
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `${INTERACTION_PATH}${interaction.uid}` },
      // Setting every TTL and hook it would otherwise default keeps oidc-provider from printing "you SHOULD change".
      ttl: { IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60 },
      clientBasedCORS: (_ctx: unknown, origin: string) => isLoopbackOrigin(origin),
      renderError: (ctx: { type: string; body: string }, out: Record<string, string>) => {
        ctx.type = 'html';
        ctx.body = `<!doctype html><meta charset="utf-8"><title>Writ dev sign-in error</title><pre>${escapeHtml(JSON.stringify(out, null, 2))}</pre>`;
      },
    });
    const callback = provider.callback();
    route.handler = (req, res) => {
      if (!(req.url ?? '/').startsWith(INTERACTION_PATH)) {
        callback(req, res);
        return;
      }
      handleInteraction(provider, req, res, byUsername, [clientId, LOGIN_CLIENT_ID]).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(`interaction failed: ${(err as Error).message}`);
      });
    };
  } catch (err) {
    server.close();
    throw err;
  }

  let configuration: Promise<oidc.Configuration> | undefined;
  const client = (): Promise<oidc.Configuration> => {
    configuration ??= oidc
      .discovery(new URL(issuer), clientId, { id_token_signed_response_alg: idTokenAlg }, oidc.None(), {
        // Plain http is the point of a loopback dev provider; openid-client refuses it unless told.
        execute: [oidc.allowInsecureRequests],
      })
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      });
    return configuration;
  };

  return {
    issuer,
    clientId,
    audience: clientId,
    jwksUri: `${issuer}/jwks`,
    redirectUri,
    loginClientId: LOGIN_CLIENT_ID,
    accounts,
    async loginAs(username, password) {
      const config = await client();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const authorizationUrl = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
      });
      const browser = new ScriptedBrowser(redirectUri);
      const form = await browser.get(authorizationUrl.toString());
      if (browser.isStop(form.url)) throw new Error('the provider redirected back without asking for a login');
      const action = /<form[^>]*action="([^"]+)"/.exec(form.body)?.[1];
      if (form.status !== 200 || action === undefined) throw new Error(`no login form (HTTP ${form.status})`);
      const after = await browser.submit(new URL(action.replaceAll('&amp;', '&'), form.url).toString(), {
        username,
        password: password ?? byUsername.get(username)?.password ?? '',
      });
      if (!browser.isStop(after.url)) {
        throw new Error(`login failed for ${username}: ${after.status === 401 ? 'wrong username or password' : `HTTP ${after.status}`}`);
      }
      // openid-client checks state and the ID token's iss, aud, exp and iat; the provider checks the PKCE verifier.
      const tokens = await oidc.authorizationCodeGrant(config, new URL(after.url), {
        pkceCodeVerifier: codeVerifier,
        expectedState: state,
      });
      if (tokens.id_token === undefined) throw new Error('the provider returned no ID token');
      return {
        idToken: tokens.id_token,
        ...(tokens.access_token !== '' ? { accessToken: tokens.access_token } : {}),
        claims: { ...tokens.claims() },
      };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err !== undefined ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** One ES256 and one RS256 key, `kid` = RFC 7638 thumbprint of the public key. */
async function signingKeys(): Promise<JWK[]> {
  const keys: JWK[] = [];
  for (const alg of ['ES256', 'RS256'] as const) {
    const { privateKey, publicKey } = await generateKeyPair(alg, {
      extractable: true,
      ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
    });
    keys.push({ ...(await exportJWK(privateKey)), alg, use: 'sig', kid: await calculateJwkThumbprint(await exportJWK(publicKey)) });
  }
  return keys;
}

function assertLoopbackRedirect(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(`redirectUri ${uri} is not a URL`);
  }
  // RFC 8252 §7.3 (and oidc-provider's rule for native clients): http redirects only to a loopback IP literal.
  const loopbackIp = url.hostname !== 'localhost' && isLoopbackHost(url.hostname);
  if (url.protocol !== 'http:' || url.hash !== '' || !loopbackIp) {
    throw new TypeError(`redirectUri must be an http URL on a loopback IP address (127.0.0.1 or [::1]), not ${uri}`);
  }
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}
