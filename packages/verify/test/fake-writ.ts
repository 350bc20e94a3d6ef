/**
 * A stand-in for Writ on loopback, speaking exactly what a verifier reads: its JWKS at `/.well-known/jwks.json` and
 * the revocation feed at `/revocation/v1/events` (SSE: catch-up after Last-Event-ID / `?after=`, `event: ready` with
 * the highest sequence, live entries, `: ping` heartbeats on demand). Tokens are signed with a test key. Every
 * synchronisation point is a promise (the next connection, the next JWKS request), never a sleep.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT } from 'jose';
import type { TaskTokenClaims } from '@writ/protocol';
import type { RevocationEntry } from '../src/internal.js';
import { ath, NOW, proof, testKey, type TestKey } from './helpers.js';

export const FEED_TOKEN = 'feed-token-0123456789abcdef';

export interface FeedConnection {
  lastEventId: string | undefined;
  after: string | null;
  authorization: string | undefined;
}

export interface FakeWrit {
  issuer: string;
  audience: string;
  signer: TestKey;
  dpop: TestKey;
  claims: TaskTokenClaims;
  /** The JWKS document served (replace to rotate). */
  jwks: { keys: Record<string, unknown>[] };
  jwksRequests: number;
  /** When true, the feed sends its catch-up but holds `ready` until `release()`. */
  holdReady: boolean;
  /** When set, feed requests are answered with this status (no stream). */
  refuseFeed: number | undefined;
  connections: FeedConnection[];
  nextConnection(): Promise<FeedConnection>;
  nextJwksRequest(): Promise<void>;
  release(): void;
  /** Makes an entry durable and sends it to every open feed. */
  revoke(target: RevocationEntry['target']): RevocationEntry;
  /** Sends raw SSE text to every open feed. */
  sendRaw(text: string): void;
  /** Cuts every open feed. */
  dropFeeds(): void;
  token(over?: Partial<TaskTokenClaims> | Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  proofFor(token: string, method: string, url: string, key?: TestKey, claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startFakeWrit(opts: { holdReady?: boolean; audiencePath?: string } = {}): Promise<FakeWrit> {
  const signer = await testKey('ES256');
  const dpop = await testKey('ES256');
  const log: RevocationEntry[] = [];
  const open = new Set<ServerResponse>();
  const waiting = new Set<ServerResponse>();
  let connWaiters: Array<(c: FeedConnection) => void> = [];
  let jwksWaiters: Array<() => void> = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/.well-known/jwks.json') {
      fake.jwksRequests++;
      const body = JSON.stringify(fake.jwks);
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      const ws = jwksWaiters;
      jwksWaiters = [];
      for (const w of ws) w();
      return;
    }
    if (url.pathname === '/revocation/v1/events') {
      const c: FeedConnection = {
        lastEventId: req.headers['last-event-id'] as string | undefined,
        after: url.searchParams.get('after'),
        authorization: req.headers.authorization,
      };
      fake.connections.push(c);
      const cs = connWaiters;
      connWaiters = [];
      for (const w of cs) w(c);
      if (req.headers.authorization !== `Bearer ${FEED_TOKEN}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      if (fake.refuseFeed !== undefined) {
        res.writeHead(fake.refuseFeed, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const after = Number(c.lastEventId ?? c.after ?? '0');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.flushHeaders();
      for (const e of log) if (e.seq > after) res.write(`id: ${e.seq}\nevent: revocation\ndata: ${JSON.stringify(e)}\n\n`);
      open.add(res);
      res.on('close', () => {
        open.delete(res);
        waiting.delete(res);
      });
      if (fake.holdReady) waiting.add(res);
      else res.write(`event: ready\ndata: ${JSON.stringify({ lastSeq: log.at(-1)?.seq ?? 0 })}\n\n`);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const audience = `${issuer}${opts.audiencePath ?? '/r/billing'}`;
  const claims: TaskTokenClaims = {
    iss: issuer,
    sub: 'dev:alice',
    aud: audience,
    client_id: 'agent-a',
    act: { sub: 'agent-a' },
    authorization_details: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }],
    cnf: { jkt: dpop.jkt },
    jti: 'tok_1',
    iat: NOW - 10,
    exp: NOW + 600,
    task_id: 'task_1',
    task_chain: ['task_root'],
  };

  const fake: FakeWrit = {
    issuer,
    audience,
    signer,
    dpop,
    claims,
    jwks: { keys: [{ ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'ES256' }] },
    jwksRequests: 0,
    holdReady: opts.holdReady ?? false,
    refuseFeed: undefined,
    connections: [],
    nextConnection: () => new Promise((resolve) => connWaiters.push(resolve)),
    nextJwksRequest: () => new Promise((resolve) => jwksWaiters.push(resolve)),
    release() {
      fake.holdReady = false;
      for (const res of waiting) res.write(`event: ready\ndata: ${JSON.stringify({ lastSeq: log.at(-1)?.seq ?? 0 })}\n\n`);
      waiting.clear();
    },
    revoke(target) {
      const entry: RevocationEntry = { seq: (log.at(-1)?.seq ?? 0) + 1, target, expiresAt: NOW + 3600 };
      log.push(entry);
      for (const res of open) res.write(`id: ${entry.seq}\nevent: revocation\ndata: ${JSON.stringify(entry)}\n\n`);
      return entry;
    },
    sendRaw(text) {
      for (const res of open) res.write(text);
    },
    dropFeeds() {
      for (const res of open) res.destroy();
    },
    token(over = {}, header = {}) {
      return new SignJWT({ ...claims, ...over })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', ...header })
        .sign(signer.privateKey);
    },
    proofFor(token, method, url, key = dpop, extra = {}) {
      return proof(key, { htm: method, htu: url, ath: ath(token), ...extra });
    },
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

/** Resolves when `predicate(state)` holds for a verifier (checked now and after every change). */
export function until<S>(source: { state: S; onChange(l: (s: S) => void): () => void }, predicate: (s: S) => boolean): Promise<S> {
  return new Promise((resolve) => {
    if (predicate(source.state)) return resolve(source.state);
    const off = source.onChange((s) => {
      if (!predicate(s)) return;
      off();
      resolve(s);
    });
  });
}
