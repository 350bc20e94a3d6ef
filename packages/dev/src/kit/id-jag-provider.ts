/**
 * A test enterprise identity provider that implements the token-exchange side of the Identity Assertion JWT
 * Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant §4): a client that holds a user's ID token
 * from this provider exchanges it (RFC 8693, `requested_token_type=urn:ietf:params:oauth:token-type:id-jag`,
 * `audience` = the authorization server's issuer, `resource`, `scope`) for an ID-JAG signed with the provider's key
 * (`typ: oauth-id-jag+jwt`; `client_id` = the client's id at that authorization server, from the provider's own
 * mapping). It also signs users in, in the way tests need (`idTokenFor`), since the point here is the exchange.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet, type JWK } from 'jose';

export interface IdJagProvider {
  issuer: string;
  tokenEndpoint: string;
  /** An ID token for `sub` (as if the user had signed in at this provider through `clientId`). */
  idTokenFor(sub: string, o?: { email?: string; clientId?: string }): Promise<string>;
  /** Signs any ID-JAG the test wants (for attack cases: another audience, expired, replayed …). */
  signIdJag(claims: Record<string, unknown>, o?: { typ?: string }): Promise<string>;
  close(): Promise<void>;
}

export interface IdJagProviderOptions {
  /** This provider's client id of the requesting app → its client id at each authorization server (by issuer). */
  clients: Record<string, Record<string, string>>;
  /** ID-JAG lifetime, seconds; default 300. */
  lifetimeSeconds?: number;
}

export async function startIdJagProvider(opts: IdJagProviderOptions): Promise<IdJagProvider> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'idjag-1', alg: 'ES256', use: 'sig' };
  const jwks = createLocalJWKSet({ keys: [publicJwk] });
  const lifetime = opts.lifetimeSeconds ?? 300;
  let issuer = '';
  const sign = (claims: Record<string, unknown>, typ: string): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'idjag-1', typ }).sign(privateKey);

  const server = createServer((req, res) => {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    };
    const path = (req.url ?? '').split('?', 1)[0];
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        token_endpoint: `${issuer}/token`,
        grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange'],
        identity_chaining_requested_token_types_supported: ['urn:ietf:params:oauth:token-type:id-jag'],
      });
    }
    if (req.method === 'GET' && path === '/jwks') return json(200, { keys: [publicJwk] });
    if (req.method === 'POST' && path === '/token') {
      void exchange(req).then(
        (body) => json(200, body),
        (err: { error?: string; message: string }) => json(400, { error: err.error ?? 'invalid_request', error_description: err.message }),
      );
      return;
    }
    json(404, { error: 'not_found' });
  });

  const fail = (error: string, message: string): Error & { error: string } => Object.assign(new Error(message), { error });
  async function exchange(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange')
      throw fail('unsupported_grant_type', 'token exchange only');
    if (form.get('requested_token_type') !== 'urn:ietf:params:oauth:token-type:id-jag')
      throw fail('invalid_request', 'requested_token_type must be id-jag');
    if (form.get('subject_token_type') !== 'urn:ietf:params:oauth:token-type:id_token')
      throw fail('invalid_request', 'subject_token_type must be id_token');
    const clientId = form.get('client_id') ?? '';
    const mapping = opts.clients[clientId];
    if (mapping === undefined) throw fail('invalid_client', 'unknown client');
    const audience = form.get('audience') ?? '';
    const atAs = mapping[audience];
    if (atAs === undefined) throw fail('invalid_target', 'this client may not get grants for that authorization server');
    let sub: string;
    let email: unknown;
    try {
      const { payload } = await jwtVerify(form.get('subject_token') ?? '', jwks, { issuer, audience: clientId });
      sub = payload.sub as string;
      email = payload['email'];
    } catch (err) {
      throw fail('invalid_grant', `subject_token: ${(err as Error).message}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const resource = form.get('resource');
    const scope = form.get('scope');
    const jag = await sign(
      {
        iss: issuer,
        sub,
        aud: audience,
        client_id: atAs,
        jti: randomUUID(),
        iat: now,
        exp: now + lifetime,
        ...(resource !== null ? { resource } : {}),
        ...(scope !== null ? { scope } : {}),
        ...(typeof email === 'string' ? { email } : {}),
      },
      'oauth-id-jag+jwt',
    );
    return { access_token: jag, issued_token_type: 'urn:ietf:params:oauth:token-type:id-jag', token_type: 'N_A', expires_in: lifetime };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    idTokenFor: (sub, o = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return sign(
        {
          iss: issuer,
          sub,
          aud: o.clientId ?? Object.keys(opts.clients)[0] ?? '',
          iat: now,
          exp: now + 600,
          ...(o.email !== undefined ? { email: o.email } : {}),
        },
        'JWT',
      );
    },
    signIdJag: (claims, o = {}) => sign(claims, o.typ ?? 'oauth-id-jag+jwt'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
