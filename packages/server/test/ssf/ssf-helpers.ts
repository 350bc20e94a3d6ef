/**
 * Helpers for the Shared Signals tests: a loopback RFC 8935 push receiver whose answers a test scripts, SET decoding,
 * receiver credentials from the admin API, and calls to the management and poll APIs with a receiver's token.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import type { StoreKind } from '../helpers/stores.js';
import { useHarness, type Harness } from '../helpers/writ-harness.js';

export interface PushedSet {
  /** What the receiver answered: only 202 answers are handed out by `take`. */
  status: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  claims: SetClaimsView;
  header: Record<string, unknown>;
}

export interface SetClaimsView {
  iss: string;
  aud: string;
  jti: string;
  iat: number;
  txn?: string;
  sub_id: Record<string, unknown>;
  events: Record<string, Record<string, unknown>>;
  [k: string]: unknown;
}

export interface PushReceiver {
  /** A fresh endpoint URL, so that each stream has answers of its own. */
  endpoint(): { url: string; path: string };
  received: PushedSet[];
  /** What to answer the next pushes to `path` with, in order; afterwards 202. */
  script(path: string, ...answers: Array<{ status: number; body?: string }>): void;
  /** The first pushed SET (not taken before) that matches, waiting for it if need be. */
  take(match: (s: PushedSet) => boolean): Promise<PushedSet>;
  close(): Promise<void>;
}

export function decodeSet(jwt: string): { header: Record<string, unknown>; claims: SetClaimsView } {
  const [h, p] = jwt.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as SetClaimsView,
  };
}

export async function startPushReceiver(): Promise<PushReceiver> {
  const received: PushedSet[] = [];
  const taken = new Set<PushedSet>();
  const waiters: Array<{ match: (s: PushedSet) => boolean; resolve: (s: PushedSet) => void }> = [];
  const scripts = new Map<string, Array<{ status: number; body?: string }>>();
  let endpoints = 0;
  const offer = (s: PushedSet): void => {
    const i = waiters.findIndex((w) => w.match(s));
    if (i < 0) return;
    const [w] = waiters.splice(i, 1);
    taken.add(s);
    w?.resolve(s);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      const answer = scripts.get(path)?.shift() ?? { status: 202 };
      res.writeHead(answer.status, answer.body !== undefined ? { 'content-type': 'application/json' } : {}).end(answer.body ?? '');
      const { header, claims } = decodeSet(body);
      const s: PushedSet = { status: answer.status, path, headers: req.headers, body, claims, header };
      received.push(s);
      if (answer.status === 202) offer(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: () => {
      const path = `/events/${++endpoints}`;
      return { url: `http://127.0.0.1:${port}${path}`, path };
    },
    received,
    script: (path, ...answers) => scripts.set(path, [...(scripts.get(path) ?? []), ...answers]),
    take: (match) => {
      const ready = received.find((s) => s.status === 202 && !taken.has(s) && match(s));
      if (ready !== undefined) {
        taken.add(ready);
        return Promise.resolve(ready);
      }
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function createReceiver(
  h: Harness,
  o: { name?: string; audience?: string; scopes?: string[] } = {},
): Promise<{ id: string; token: string; audience: string; scopes: string[] }> {
  const audience = o.audience ?? `https://receiver.example/${Math.random().toString(36).slice(2)}`;
  return h.admin.post('/ssf/receivers', {
    name: o.name ?? 'test receiver',
    audience,
    ...(o.scopes !== undefined ? { scopes: o.scopes } : {}),
  });
}

export interface SsfResponse {
  status: number;
  headers: Headers;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export async function ssfCall(
  h: Harness,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<SsfResponse> {
  const res = await fetch(`${h.writ.url}${path}`, {
    method,
    headers: {
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...extraHeaders,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

export { eventually } from '../helpers/eventually.js';

/** Makes a revocation through the admin API; returns its seq (and so the txn every SET of it carries). */
export async function revoke(
  h: Harness,
  target: Record<string, unknown>,
  reason = 'test revocation',
): Promise<{ seq: number; txn: string }> {
  const r = await h.admin.post<{ seq: number }>('/revocations', { target, reason });
  return { seq: r.seq, txn: `writ-revocation-${r.seq}` };
}

/** Outbox rows of a stream, oldest first. */
export async function outboxRows(
  h: Harness,
  streamId: string,
): Promise<Array<{ jti: string; state: string; event_type: string; attempts: number; last_error: string | null }>> {
  return h.store.db
    .selectFrom('ssf_events')
    .select(['jti', 'state', 'event_type', 'attempts', 'last_error'])
    .where('stream_id', '=', streamId)
    .orderBy('seq')
    .execute();
}

export interface PushStream {
  id: string;
  token: string;
  aud: string;
  /** The stream's own path on the push receiver (for scripted answers). */
  path: string;
  /** Deletes the stream's receiver, so later tests' revocations do not reach it. */
  done(): Promise<void>;
}

/**
 * A Writ (retries after 1 ms) and a push receiver for the suite, started before its tests and closed after; `stream()`
 * makes a push stream of a fresh receiver, so that each test sees only its own SETs.
 */
export function pushFixture(kind: StoreKind): {
  readonly h: Harness;
  readonly push: PushReceiver;
  stream(authorization?: string): Promise<PushStream>;
} {
  const h = useHarness(kind, { config: { 'ssf.pushRetryInitialMs': 1 } });
  let push: PushReceiver | undefined;
  before(async () => {
    push = await startPushReceiver();
  });
  after(async () => {
    await push?.close();
  });
  const fixture = {
    h,
    get push(): PushReceiver {
      if (push === undefined) throw new Error('the fixture is not started');
      return push;
    },
    async stream(authorization?: string): Promise<PushStream> {
      const r = await createReceiver(fixture.h);
      const { url, path } = fixture.push.endpoint();
      const res = await ssfCall(fixture.h, r.token, 'POST', '/ssf/v1/streams', {
        delivery: {
          method: 'urn:ietf:rfc:8935',
          endpoint_url: url,
          ...(authorization !== undefined ? { authorization_header: authorization } : {}),
        },
      });
      if (res.status !== 201) throw new Error(`stream not created: ${res.status} ${res.text}`);
      return {
        id: res.json()['stream_id'] as string,
        token: r.token,
        aud: r.audience,
        path,
        done: () => fixture.h.admin.delete(`/ssf/receivers/${r.id}`),
      };
    },
  };
  return fixture;
}
