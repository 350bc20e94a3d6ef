/**
 * The benchmark's token-exchange client: the same request the agent SDK sends (form fields, `private_key_jwt`
 * assertion, DPoP proof), with a fresh assertion `jti` and a fresh proof per exchange, but signed with raw
 * `node:crypto` and sent over a keep-alive `node:http` agent. The SDK's jose signatures and fetch cost the client
 * more CPU than Writ spends on several steps, and the clients share the two cores with the Writ process: measured
 * with the SDK, the benchmark mostly measured its own clients.
 */
import { createPrivateKey, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { Agent, request } from 'node:http';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, GRANT_TYPE_TOKEN_EXCHANGE, PATHS, type AuthorizationDetail } from '@writ/protocol';

export interface LeanExchangeOptions {
  issuer: string;
  clientId: string;
  clientJwk: JsonWebKey;
  clientKid: string;
  dpopJwk: JsonWebKey;
  subjectToken: string;
  subjectTokenType: string;
  resource: string;
  authorizationDetails: readonly AuthorizationDetail[];
  purpose: string;
  connections: number;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function es256(key: KeyObject, header: string, payload: unknown): string {
  const input = `${header}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** POSTs a form to the token endpoint over `agent`; resolves to the JSON answer, rejects on anything but 200. */
function postForm(agent: Agent, url: URL, body: string, proof: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
          dpop: proof,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`token endpoint answered ${res.statusCode}: ${text}`));
          else resolve(JSON.parse(text) as Record<string, unknown>);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The refresh-token grant as a stock client with a DPoP key sends it (a fresh proof each time): returns a function
 * that redeems one refresh token and resolves to the rotated one.
 */
export function leanRefresher(opts: { issuer: string; clientId: string; dpopJwk: JsonWebKey; connections: number }): {
  refresh(refreshToken: string): Promise<string>;
  proof(): string;
} {
  const endpoint = `${opts.issuer}${PATHS.token}`;
  const url = new URL(endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const dpopKey = createPrivateKey({ key: opts.dpopJwk, format: 'jwk' });
  const { kty, crv, x, y } = opts.dpopJwk;
  const proofHeader = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
  const proof = (): string =>
    es256(dpopKey, proofHeader, {
      jti: randomBytes(16).toString('base64url'),
      htm: 'POST',
      htu: endpoint,
      iat: Math.floor(Date.now() / 1000),
    });
  return {
    proof,
    async refresh(refreshToken) {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: opts.clientId }).toString();
      const answer = await postForm(agent, url, body, proof());
      if (typeof answer['refresh_token'] !== 'string' || answer['token_type'] !== 'DPoP')
        throw new Error(`unexpected: ${JSON.stringify(answer)}`);
      return answer['refresh_token'];
    },
  };
}

/** Returns a function that performs one exchange and resolves to the issued access token (rejects on non-200). */
export function leanExchanger(opts: LeanExchangeOptions): () => Promise<string> {
  const endpoint = `${opts.issuer}${PATHS.token}`;
  const url = new URL(endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const clientKey = createPrivateKey({ key: opts.clientJwk, format: 'jwk' });
  const dpopKey = createPrivateKey({ key: opts.dpopJwk, format: 'jwk' });
  const { kty, crv, x, y } = opts.dpopJwk;
  const assertionHeader = b64({ alg: 'ES256', typ: 'JWT', kid: opts.clientKid });
  const proofHeader = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
  const fixed = new URLSearchParams({
    grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
    subject_token: opts.subjectToken,
    subject_token_type: opts.subjectTokenType,
    resource: opts.resource,
    authorization_details: JSON.stringify(opts.authorizationDetails),
    purpose: opts.purpose,
    client_id: opts.clientId,
    client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
  }).toString();

  return () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = es256(clientKey, assertionHeader, {
      iss: opts.clientId,
      sub: opts.clientId,
      aud: endpoint,
      jti: randomBytes(16).toString('base64url'),
      iat: now,
      exp: now + 60,
    });
    const proof = es256(dpopKey, proofHeader, { jti: randomBytes(16).toString('base64url'), htm: 'POST', htu: endpoint, iat: now });
    const body = `${fixed}&client_assertion=${assertion}`;
    return postForm(agent, url, body, proof).then((parsed) => {
      if (typeof parsed['access_token'] !== 'string' || parsed['token_type'] !== 'DPoP')
        throw new Error(`unexpected token response: ${JSON.stringify(parsed)}`);
      return parsed['access_token'];
    });
  };
}
