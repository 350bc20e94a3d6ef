/**
 * A minimal "identity provider" whose private key the test holds: discovery document + JWKS on loopback, with
 * request counts. The real provider (the dev IdP) cannot be made to sign a wrong audience or an `nbf` in the future;
 * this one signs whatever a test asks, so each claim check can be hit on its own.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  kid: string;
  publicJwk: JWK;
  publicKey: CryptoKey;
  /** Requests per path (`/.well-known/openid-configuration`, `/jwks`). */
  hits: Map<string, number>;
  /** Replaces the discovery document (or makes it fail with a status). */
  discovery: Record<string, unknown> | number;
  /** Signs `claims` (defaults: iss, aud, sub, iat, exp filled in unless given; `undefined` removes one). */
  sign(claims?: Record<string, unknown>, header?: { kid?: string; alg?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(audience: string): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = 'test-key-1';
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/.well-known/openid-configuration') {
      if (typeof t.discovery === 'number') res.writeHead(t.discovery).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(t.discovery));
    } else if (path === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const t: TestIssuer = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    kid,
    publicJwk,
    publicKey,
    hits,
    discovery: { issuer, jwks_uri: `${issuer}/jwks` },
    async sign(claims = {}, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      const full: Record<string, unknown> = { iss: issuer, aud: audience, sub: 'user-1', iat: now, exp: now + 300, ...claims };
      // `{ exp: undefined }` in `claims` means "no exp at all".
      for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
      return new SignJWT(full).setProtectedHeader({ alg: header.alg ?? 'ES256', kid: header.kid ?? kid }).sign(privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return t;
}
