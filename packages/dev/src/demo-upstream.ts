/**
 * The demo's upstream HTTP API: a small "projects" service on loopback that, like any real API, accepts only its
 * own API key. Writ's vault holds that key and the gateway injects it; the demo agent never sees it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoUpstream {
  url: string;
  close(): Promise<void>;
}

export interface UpstreamObservation {
  method: string;
  path: string;
  /** Whether the request carried the expected API key. */
  authenticated: boolean;
  /** Whether anything that looks like the agent's task token or DPoP proof reached the upstream (it must not). */
  sawAgentCredentials: boolean;
  traceparent: string | undefined;
}

export async function startDemoUpstream(opts: {
  apiKey: string;
  host?: string;
  port?: number;
  onRequest?: (o: UpstreamObservation) => void;
}): Promise<DemoUpstream> {
  const expected = createHash('sha256').update(`Bearer ${opts.apiKey}`).digest();
  const projects = [
    { id: '1', name: 'apollo', owner: 'alice' },
    { id: '2', name: 'gemini', owner: 'alice' },
  ];
  const server: Server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    const authenticated = timingSafeEqual(createHash('sha256').update(auth).digest(), expected);
    const sawAgentCredentials = req.headers.dpop !== undefined || auth.startsWith('DPoP ');
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    opts.onRequest?.({
      method: req.method ?? 'GET',
      path,
      authenticated,
      sawAgentCredentials,
      traceparent: typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined,
    });
    const send = (status: number, body: unknown): void => {
      const json = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
    };
    req.resume();
    req.on('end', () => {
      if (!authenticated) return send(401, { error: 'missing or wrong API key' });
      if (req.method === 'GET' && path === '/v1/projects') return send(200, { projects });
      const m = /^\/v1\/projects\/([^/]+)$/.exec(path);
      if (m !== null) {
        const p = projects.find((x) => x.id === m[1]);
        if (req.method === 'GET') return p === undefined ? send(404, { error: 'no such project' }) : send(200, p);
        if (req.method === 'DELETE') return send(200, { deleted: m[1] });
      }
      if (path.startsWith('/v1/admin')) return send(200, { users: ['alice', 'bob'], note: 'an agent should never reach this' });
      return send(404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
