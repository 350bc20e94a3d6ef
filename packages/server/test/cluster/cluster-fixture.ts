/**
 * A Writ cluster of real processes for tests: one control node and gateway nodes, each `writ serve` in its own
 * process, on a database of their own created for the run (and dropped after). All share the public URL (the
 * control node's address stands for the load balancer's), the KEK and the admin token, as a deployment would.
 * One gateway reaches PostgreSQL through a TCP proxy the test can pause and cut.
 */
import { randomBytes } from 'node:crypto';
import { createScratchDatabase } from '../helpers/scratch-database.js';
import { createDpopProof, type DpopKey } from '@writ/agent';
import { TOKEN_TYPE, type AuthorizationDetail } from '@writ/protocol';
import { AdminClient } from '../../src/admin-client/index.js';
import { startDevIdentityProvider } from '@writ/dev';
import { agentKeys, freePort, registerAgentKeys, seedWrit, writAgent } from '@writ/dev/kit';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startWritProcess, type WritProcess } from '../helpers/writ-process.js';
import { DEFAULT_GRANT } from '../helpers/writ-harness.js';

export const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }];

export interface CallResult {
  status: number;
  code: string | undefined;
}

export interface Cluster {
  readonly publicUrl: string;
  readonly adminToken: string;
  readonly databaseUrl: string;
  readonly control: WritProcess;
  readonly gateways: WritProcess[];
  /** The gateway whose database connections go through `proxy`. */
  readonly proxied: WritProcess;
  readonly proxy: TcpProxy;
  readonly admin: AdminClient;
  readonly upstream: RecordingUpstream;
  /** Starts one more gateway node (it is stopped with the cluster). */
  startGateway(name: string, cluster?: Record<string, unknown>): Promise<WritProcess>;
  /** A new task of agent-a for alice at `{publicUrl}/r/{resource}` (or the absolute `resourceUri`), and its token. */
  task(details?: AuthorizationDetail[], resource?: string, resourceUri?: string): Promise<{ id: string; token: string }>;
  /** fetch as agent-a with `token`: the proof names the public URL, the request goes to `node` (a load balancer's pick). */
  fetchVia(node: WritProcess, token: string): typeof fetch;
  /** One call through `node`'s gateway, with a fresh proof for the public URL (as behind a load balancer). */
  call(node: WritProcess, token: string, path?: string, proof?: string): Promise<CallResult>;
  /** A proof for a GET of `path` on the cluster's public URL. */
  proof(token: string, path: string): Promise<string>;
  /** A proof for a GET of any absolute URL (a service of its own). */
  proofAt(token: string, url: string): Promise<string>;
  readyz(node: WritProcess): Promise<{ status: number; body: ReadyBody }>;
  close(): Promise<void>;
}

export interface ReadyBody {
  status: 'ready' | 'not_ready';
  checks: {
    revocation: {
      mode: string;
      state: string;
      last_seq: number;
      log_seq: number;
      lag_ms: number | null;
      connected?: boolean;
      reason?: string;
    };
    cluster: { role: string; node_id: string };
  };
}

export async function startCluster(baseUrl: string, o: { gateways: number; proxiedCluster?: Record<string, unknown> }): Promise<Cluster> {
  const scratch = await createScratchDatabase(baseUrl, 'cluster');
  const databaseUrl = scratch.databaseUrl;
  const dbUrl = new URL(databaseUrl);
  const proxy = await startTcpProxy({ host: dbUrl.hostname, port: Number(dbUrl.port || 5432) });
  const proxiedUrl = new URL(databaseUrl);
  proxiedUrl.hostname = '127.0.0.1';
  proxiedUrl.port = String(proxy.port);

  const kek = randomBytes(32).toString('base64');
  const adminToken = `cluster_admin_${randomBytes(16).toString('hex')}`;
  const controlPort = await freePort();
  const publicUrl = `http://127.0.0.1:${controlPort}`;
  const env = { WRIT_KEK: kek, WRIT_ADMIN_TOKEN: adminToken };
  const nodes: WritProcess[] = [];
  const node = async (
    name: string,
    role: string,
    port: number,
    url: string,
    cluster: Record<string, unknown> = {},
  ): Promise<WritProcess> => {
    const p = await startWritProcess({
      name,
      env,
      config: {
        server: { host: '127.0.0.1', port, publicUrl },
        storage: { databaseUrl: url },
        cluster: { role, nodeId: name, heartbeatIntervalMs: 100, ...cluster },
        audit: { flushIntervalMs: 5 },
        log: { level: 'info' },
      },
    });
    nodes.push(p);
    return p;
  };
  const idp = await startDevIdentityProvider({ host: '127.0.0.1', port: 0 });
  const upstream = await startRecordingUpstream();
  try {
    const control = await node('control', 'control', controlPort, databaseUrl);
    const gateways: WritProcess[] = [];
    for (let i = 1; i < o.gateways; i++) gateways.push(await node(`gateway-${i}`, 'gateway', 0, databaseUrl));
    const proxied = await node(`gateway-${o.gateways}`, 'gateway', 0, proxiedUrl.toString(), o.proxiedCluster);
    gateways.push(proxied);

    const admin = new AdminClient(control.url, adminToken);
    await seedWrit(admin, { idp, upstream: upstream.url, grant: { id: 'default', policy: DEFAULT_GRANT } });
    const keys = await agentKeys();
    await registerAgentKeys(admin, 'agent-a', keys);
    const dpopKey: DpopKey = keys.dpopKey;
    const sdk = writAgent(publicUrl, 'agent-a', keys);
    const { idToken } = await idp.loginAs('alice', idp.accounts.find((a) => a.username === 'alice')?.password);

    const proofAt = (token: string, url: string): Promise<string> => createDpopProof(dpopKey, { htm: 'GET', htu: url, accessToken: token });
    const proof = (token: string, path: string): Promise<string> => proofAt(token, `${publicUrl}${path}`);
    const c: Cluster = {
      publicUrl,
      adminToken,
      databaseUrl,
      control,
      gateways,
      proxied,
      proxy,
      admin,
      upstream,
      startGateway: (name, cluster) => node(name, 'gateway', 0, databaseUrl, cluster),
      async task(details = READ, resource = 'api', resourceUri?: string) {
        const t = await sdk.startTask({
          subjectToken: idToken,
          subjectTokenType: TOKEN_TYPE.idToken,
          resource: resourceUri ?? `${publicUrl}/r/${resource}`,
          authorizationDetails: details,
          purpose: 'cluster test',
        });
        return { id: t.id, token: t.token };
      },
      proof,
      proofAt,
      fetchVia: (n, token) => async (input, init) => {
        const target = new URL(input instanceof Request ? input.url : String(input));
        const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
        const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
        headers.set('authorization', `DPoP ${token}`);
        headers.set('dpop', await createDpopProof(dpopKey, { htm: method, htu: `${publicUrl}${target.pathname}`, accessToken: token }));
        return fetch(`${n.url}${target.pathname}${target.search}`, { ...init, method, headers });
      },
      async call(n, token, path = '/r/api/v1/projects', p) {
        const res = await fetch(`${n.url}${path}`, {
          headers: { authorization: `DPoP ${token}`, dpop: p ?? (await proof(token, path)) },
        });
        const text = await res.text();
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        return { status: res.status, code };
      },
      async readyz(n) {
        const res = await fetch(`${n.url}/readyz`);
        return { status: res.status, body: (await res.json()) as ReadyBody };
      },
      async close() {
        await Promise.all(nodes.map((n) => n.stop()));
        await proxy.close();
        await idp.close();
        await upstream.close();
        await scratch.dispose();
      },
    };
    return c;
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    await proxy.close();
    await idp.close();
    await upstream.close();
    throw err;
  }
}

/**
 * Re-evaluates `probe` until it holds, or fails after `ms` with what it last saw. Waits on a condition in the system
 * under test (a node's reported state, a call's answer) — never on time alone; the bound only turns a hang into a
 * failure.
 */
export async function eventually<T>(probe: () => Promise<T>, holds: (v: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (holds(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: still not so after ${ms} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setImmediate(r));
  }
}
