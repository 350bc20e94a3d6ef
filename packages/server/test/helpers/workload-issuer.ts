/**
 * A workload-identity issuer on loopback, as a Kubernetes API server or a CI system presents itself to relying
 * parties: an OpenID discovery document and a JWKS over real HTTP, and tokens signed with its key. `rotate()` moves
 * to a new key (the old one is unpublished), so refetch-on-unknown-kid can be exercised.
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface WorkloadIssuer {
  issuer: string;
  jwksUri: string;
  jwks(): { keys: JWK[] };
  /** Signs a token; `exp` defaults to 10 minutes from now, `iat` to now. `null` leaves a claim out. */
  token(claims: Record<string, unknown>, opts?: { key?: 'current' | 'foreign' }): Promise<string>;
  rotate(): Promise<void>;
  close(): Promise<void>;
}

interface Key {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, publicJwk: { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' } };
}

export async function startWorkloadIssuer(opts: { now?: () => number } = {}): Promise<WorkloadIssuer> {
  const now = opts.now ?? Date.now;
  let key = await newKey();
  const foreign = await newKey();
  let issuer = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/openid/v1/jwks`, id_token_signing_alg_values_supported: ['ES256'] }));
    } else if (req.url === '/openid/v1/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [key.publicJwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  issuer = `http://127.0.0.1:${address.port}`;
  return {
    issuer,
    jwksUri: `${issuer}/openid/v1/jwks`,
    jwks: () => ({ keys: [key.publicJwk] }),
    async token(claims, o = {}) {
      const k = o.key === 'foreign' ? foreign : key;
      const t = Math.floor(now() / 1000);
      const payload: JWTPayload = { iss: issuer, iat: t, exp: t + 600, jti: randomUUID() };
      for (const [name, value] of Object.entries(claims)) {
        if (value === null) delete payload[name];
        else payload[name] = value;
      }
      return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: k.publicJwk.kid as string }).sign(k.privateKey);
    },
    async rotate() {
      key = await newKey();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
