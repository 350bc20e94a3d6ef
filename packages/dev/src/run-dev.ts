/**
 * `writ dev`: Writ on its embedded default (one process, SQLite, loopback only) with a development identity
 * provider, a demo upstream API, a demo setup seeded through the admin API, and a scripted demo agent that shows
 * the product's point. Afterwards Writ keeps running for you to poke at.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { DEFAULT_PORT } from '@writ/protocol';
import { AdminClient, createLogger, loadConfig, printAuditChain, startWritServer, type WritServer } from '@writ/server';
import { startDevIdentityProvider, startUpstreamAuthorizationServer } from './idp/index.js';
import { startDemoUpstream } from './demo-upstream.js';
import { serveClientMetadataDocument } from './kit/client-metadata-server.js';
import { DEMO_HOST_REDIRECT, demoHostGrant, runStockHostDemo } from './stock-host-demo.js';

export interface DevOptions {
  port?: number | undefined;
  dataDir: string;
  keepData: boolean;
  demo: boolean;
  exitAfterDemo: boolean;
  /** The environment `writ dev` was started in (WRIT_PORT, WRIT_ADMIN_TOKEN, WRIT_LOG_LEVEL); none by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where to print (tests capture it). */
  out?: (line: string) => void;
}

export interface DevHandle {
  writ: WritServer;
  adminToken: string;
  demoOk: boolean | undefined;
  close(): Promise<void>;
}

/** The demo grant `writ dev` seeds (tests use it too: error messages count its comment line). */
export const demoGrant = (
  agentId: string,
  resourceId: string,
  userId: string,
): string => `// The demo grant: ${agentId} may read alice's projects on ${resourceId} — and nothing else.
permit (
  principal == Writ::Agent::"${agentId}",
  action == Writ::Action::"http",
  resource == Writ::Resource::"${resourceId}"
) when {
  context.user == Writ::User::"${userId}" &&
  ["GET", "HEAD"].contains(context.method) &&
  (context.path == "/v1/projects" || context.path like "/v1/projects/*")
};
`;

/** The demo MCP grant `writ dev` seeds. */
export const demoMcpGrant = (
  agentId: string,
  resourceId: string,
  userId: string,
): string => `// The demo MCP grant: ${agentId} may use two tools of ${resourceId} for alice — not get-env, not the rest.
permit (
  principal == Writ::Agent::"${agentId}",
  action == Writ::Action::"mcp_tool",
  resource == Writ::Resource::"${resourceId}"
) when {
  context.user == Writ::User::"${userId}" && ["echo", "get-sum"].contains(context.tool)
};
`;

export async function runDev(opts: DevOptions): Promise<DevHandle> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const step = (n: number, text: string): void => out(`\n${n}. ${text}`);
  const env = opts.env ?? {};
  const port = opts.port ?? (env['WRIT_PORT'] !== undefined ? Number(env['WRIT_PORT']) : DEFAULT_PORT);
  mkdirSync(opts.dataDir, { recursive: true });
  const dbPath = join(opts.dataDir, 'dev.db');
  if (!opts.keepData) for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  const kek = secretFile(join(opts.dataDir, 'dev-kek'), () => randomBytes(32).toString('base64'));
  const fixedToken = env['WRIT_ADMIN_TOKEN'];
  const adminToken = fixedToken !== undefined && fixedToken !== '' ? fixedToken : `writ_dev_${randomBytes(24).toString('base64url')}`;

  out('Writ dev — embedded default: one process, SQLite, loopback only.');
  const idp = await startDevIdentityProvider({ host: '127.0.0.1', port: port === 0 ? 0 : port + 1 });
  const upstreamKey = `demo_sk_${randomBytes(18).toString('base64url')}`;
  const upstream = await startDemoUpstream({
    apiKey: upstreamKey,
    port: port === 0 ? 0 : port + 2,
    onRequest: (o) =>
      out(
        `  upstream › ${o.method} ${o.path}: API key ${o.authenticated ? 'valid (injected by Writ)' : 'MISSING'}; agent credentials seen: ${o.sawAgentCredentials ? 'YES (bug!)' : 'none'}; traceparent ${o.traceparent ?? '-'}`,
      ),
  });
  // The demo's stock MCP host publishes its Client ID Metadata Document over https, with a certificate made now.
  const hostDocument = await serveClientMetadataDocument((clientId) => ({
    client_id: clientId,
    client_name: 'Writ demo MCP host',
    redirect_uris: [DEMO_HOST_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }));
  const hostCa = join(opts.dataDir, 'demo-host-ca.pem');
  writeFileSync(hostCa, hostDocument.caPem);
  const config = loadConfig({
    // The demo runs on the embedded default: no writ.yaml, no database URL from the environment.
    file: null,
    env: { ...env, WRIT_ADMIN_TOKEN: adminToken, WRIT_KEK: kek, WRIT_DATABASE_URL: '' },
    overrides: {
      'server.host': '127.0.0.1',
      'server.port': port,
      'storage.sqlitePath': dbPath,
      'storage.databaseUrl': undefined,
      'log.level': env['WRIT_LOG_LEVEL'] ?? 'warn',
      // The demo's upstream and identity provider run on loopback, which the egress rules refuse by default.
      'egress.allow': ['127.0.0.0/8', '::1'],
      // Stock MCP hosts sign people in at the dev identity provider; in dev, clients may register and act at once.
      'authorization.login.provider': 'dev',
      'authorization.login.clientId': idp.loginClientId,
      'authorization.registration.mode': 'open',
      'authorization.registration.newClientStatus': 'active',
      'authorization.metadataDocuments.caFile': hostCa,
      // The console's roles, from the dev accounts' `groups`: dana is an admin, bob may only look.
      'console.roles.admin': ['writ-admins'],
      'console.roles.readOnly': ['writ-auditors'],
    },
  });
  const logger = createLogger({ level: config.log.level });
  const writ = await startWritServer({ config, logger });
  const admin = new AdminClient(writ.url, adminToken);
  // An upstream with its own authorization server, which knows alice and bob only through Writ's signed assertions
  // (the vault's `token_exchange` kind): the upstream sees the person the agent works for.
  const exchangeClient = { id: 'writ-dev', secret: randomBytes(24).toString('base64url') };
  const perUser = await startUpstreamAuthorizationServer({
    clients: [{ client_id: exchangeClient.id, client_secret: exchangeClient.secret, scope: 'read:projects' }],
    trustAssertionsFrom: { issuer: writ.publicUrl, jwksUri: `${writ.publicUrl}/.well-known/jwks.json` },
    ...(port === 0 ? {} : { port: port + 3, apiPort: port + 4 }),
  });
  const closeAll = async (): Promise<void> => {
    await writ.close();
    await idp.close();
    await upstream.close();
    await perUser.close();
    await hostDocument.close();
  };

  out(`Writ listening on ${writ.url} (issuer ${writ.publicUrl})`);
  out(`dev identity provider ${idp.issuer}; demo upstream API ${upstream.url}`);

  // ---- seed the demo through the admin API -------------------------------------------------------------------
  const agentKey = await agentKeyPair(opts.dataDir, opts.keepData);
  const resourceId = 'demo-api';
  const agentId = 'demo-agent';
  const userId = 'dev:alice';
  await ignoreConflict(admin.post('/identity-providers', { id: 'dev', issuer: idp.issuer, discovery: true, audience: idp.audience }));
  await admin.put('/secrets/demo-api-key', { value: upstreamKey, description: 'API key of the demo upstream' });
  await ignoreConflict(
    admin.post('/resources', {
      id: resourceId,
      baseUrl: upstream.url,
      secretId: 'demo-api-key',
      inject: { mode: 'bearer' },
      description: 'demo projects API',
    }),
  );
  await ignoreConflict(
    admin.post('/agents', {
      id: agentId,
      name: 'Demo agent',
      owner: 'alice@example.com',
      kind: 'agent',
      jwks: { keys: [agentKey.publicJwk] },
      description: 'the scripted demo agent',
    }),
  );
  await ignoreConflict(
    admin.post('/grants', {
      id: 'demo-read-projects',
      description: "demo-agent may read alice's projects",
      policy: demoGrant(agentId, resourceId, userId),
    }),
  );
  // The MCP part: the reference server-everything, started by Writ itself on a loopback port (it binds every
  // interface unless made not to), behind the MCP resource "demo".
  const everything = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
  await ignoreConflict(
    admin.post('/resources', {
      id: 'demo',
      kind: 'mcp',
      // Stock MCP hosts that cannot sign DPoP proofs get short-lived bearer task tokens here (audited as such).
      mcp: {
        upstreams: [{ name: 'everything', transport: 'http-process', args: [everything, 'streamableHttp'] }],
        bearer: { allowed: true },
      },
      description: 'MCP server-everything, run by Writ on loopback',
    }),
  );
  await ignoreConflict(
    admin.post('/grants', {
      id: 'demo-mcp-tools',
      description: 'demo-agent may use echo and get-sum for alice',
      policy: demoMcpGrant(agentId, 'demo', userId),
    }),
  );
  await ignoreConflict(
    admin.post('/grants', {
      id: 'demo-mcp-hosts',
      description: 'stock MCP hosts may use echo, get-sum and get-env for alice; she picks at consent',
      policy: demoHostGrant('demo', userId),
    }),
  );
  await admin.put('/secrets/whoami-exchange', {
    kind: 'token_exchange',
    tokenEndpoint: perUser.tokenExchangeEndpoint,
    clientId: exchangeClient.id,
    clientSecret: exchangeClient.secret,
    scope: 'read:projects',
    description: "tokens of the per-user upstream, exchanged per call for the call's user and agent",
  });
  await ignoreConflict(
    admin.post('/resources', {
      id: 'whoami',
      baseUrl: perUser.apiUrl,
      secretId: 'whoami-exchange',
      inject: { mode: 'bearer' },
      description: 'an upstream that tells who it saw (its tokens are per user, by token exchange)',
    }),
  );
  await ignoreConflict(
    admin.post('/grants', {
      id: 'demo-whoami',
      description: 'demo-agent may ask the per-user upstream who it is, for alice',
      policy: `permit (principal == Writ::Agent::"${agentId}", action == Writ::Action::"http", resource == Writ::Resource::"whoami")
when { context.user == Writ::User::"${userId}" && context.method == "GET" && context.path == "/whoami" };`,
    }),
  );
  out(
    'seeded: identity provider "dev", secrets "demo-api-key" (static, write-only) and "whoami-exchange" (token exchange), resources "demo-api" (HTTP), "whoami" (HTTP, per-user tokens) and "demo" (MCP), agent "demo-agent", grants "demo-read-projects", "demo-whoami", "demo-mcp-tools" and "demo-mcp-hosts"',
  );

  let demoOk: boolean | undefined;
  if (opts.demo) {
    step(1, 'alice signs in at the dev identity provider (authorization code + PKCE, a real OpenID provider)');
    const alice = idp.accounts.find((a) => a.username === 'alice');
    const login = await idp.loginAs('alice', alice?.password);
    out(`  alice › got an ID token from ${idp.issuer} (aud ${idp.audience}); she hands it to the agent`);
    step(2, 'the demo agent (its own process) works for alice through Writ');
    const result = await runDemoAgent(
      {
        issuer: writ.publicUrl,
        agentId,
        clientKeyJwk: agentKey.privateJwk,
        subjectToken: login.idToken,
        resource: `${writ.publicUrl}/r/${resourceId}`,
        whoamiResource: `${writ.publicUrl}/r/whoami`,
        mcpResource: `${writ.publicUrl}/mcp/demo`,
      },
      out,
    );
    if (result === undefined) {
      demoOk = false;
      out('\nthe demo agent failed (see above)');
    } else {
      step(3, `the audit trail of task ${result.taskId}, as a chain`);
      const chain = await admin.get(`/tasks/${encodeURIComponent(result.taskId)}/audit`);
      printAuditChain(chain, out);
      if (result.mcpTaskId !== undefined) {
        out(`\n  and of the MCP task ${result.mcpTaskId}:`);
        printAuditChain(await admin.get(`/tasks/${encodeURIComponent(result.mcpTaskId)}/audit`), out);
      }
      const verify = await admin.get<{ ok: boolean; count?: number; firstBadSeq?: number; problem?: string }>('/audit/verify');
      out(
        verify.ok
          ? `\n  audit › hash chain verified: ${verify.count ?? '?'} events, untampered`
          : `\n  audit › CHAIN BROKEN at event ${verify.firstBadSeq ?? '?'}: ${verify.problem ?? ''}`,
      );
      const r = result.results;
      step(4, 'a stock MCP host (the MCP SDK client) signs alice in through Writ and gets a task by her consent');
      const hostOk = await runStockHostDemo({
        publicUrl: writ.publicUrl,
        admin,
        clientMetadataUrl: hostDocument.clientId,
        alice: { username: 'alice', password: alice?.password ?? '' },
        out,
      }).catch((err: unknown) => {
        out(`  the stock host demo failed: ${(err as Error).message}`);
        return false;
      });
      demoOk =
        hostOk &&
        verify.ok &&
        r['list'] === 200 &&
        r['read'] === 200 &&
        r['delete'] === 403 &&
        r['admin'] === 403 &&
        r['afterComplete'] === 401 &&
        r['whoami'] === 200 &&
        r['mcpListed'] === 2 &&
        r['mcpEcho'] === 200 &&
        r['mcpEnv'] === 403 &&
        r['mcpAfterComplete'] === 401;
      out(
        demoOk
          ? '\nDemo complete: allowed, refused, completed, refused again — and every step is on the record.'
          : '\nDemo finished with unexpected results (see above).',
      );
    }
  }

  if (opts.exitAfterDemo) {
    out('\nWrit stopped (--exit-after-demo).');
    await closeAll();
    if (demoOk === false) process.exitCode = 1;
    return { writ, adminToken, demoOk, close: closeAll };
  }
  // The console, with the dev admin signed in by a one-time link (five minutes, once); dana and bob sign in at the IdP.
  const link = await admin.post<{ url: string }>('/console/links', {}).catch(() => undefined);
  out(`
Console: ${writ.publicUrl}/console/  (admin: dana, read-only: bob)${
    link !== undefined
      ? `
  signed in as the dev admin, once, within 5 minutes: ${link.url}`
      : ''
  }`);
  out(`
Writ keeps running. Try it:
  export WRIT_URL=${writ.url} WRIT_ADMIN_TOKEN=${adminToken}
  curl -s $WRIT_URL/healthz; curl -s $WRIT_URL/.well-known/oauth-authorization-server
  curl -s -H "authorization: Bearer $WRIT_ADMIN_TOKEN" $WRIT_URL/admin/v1/agents
  curl -si $WRIT_URL/r/demo-api/v1/projects          # no token: 401 with a DPoP challenge
  curl -s $WRIT_URL/.well-known/oauth-protected-resource/mcp/demo   # the MCP resource "demo" (server-everything)
  add $WRIT_URL/mcp/demo to an MCP host (or: npx mcp-remote $WRIT_URL/mcp/demo): sign in as alice, consent, use it
  writ tasks list; writ audit list --agent demo-agent; writ audit verify    # in a clone: ./bin/writ
  writ revoke agent demo-agent --reason "demo"   # the kill switch
Dev accounts: ${idp.accounts.map((a) => `${a.username} / ${a.password}`).join(', ')}
Press Ctrl-C to stop.`);

  const handle: DevHandle = { writ, adminToken, demoOk, close: closeAll };
  const stop = (): void => {
    void closeAll().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return handle;
}

async function runDemoAgent(
  input: Record<string, unknown>,
  out: (line: string) => void,
): Promise<{ taskId: string; mcpTaskId?: string; results: Record<string, number> } | undefined> {
  const script = fileURLToPath(new URL('./demo-agent.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(JSON.stringify(input));
  let result: { taskId: string; mcpTaskId?: string; results: Record<string, number> } | undefined;
  let buffered = '';
  const onLine = (line: string): void => {
    if (line.startsWith('WRIT_DEMO_RESULT ')) result = JSON.parse(line.slice('WRIT_DEMO_RESULT '.length)) as typeof result;
    else if (line !== '') out(line);
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    lines.forEach(onLine);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => chunk.split('\n').forEach((l) => l !== '' && out(l)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (buffered !== '') onLine(buffered);
  return code === 0 ? result : undefined;
}

async function agentKeyPair(dir: string, keep: boolean): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const file = join(dir, 'demo-agent-key.json');
  if (keep && existsSync(file)) {
    const privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    const { d: _d, ...publicJwk } = privateJwk;
    return { privateJwk, publicJwk };
  }
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  writeFileSync(file, JSON.stringify(privateJwk), { mode: 0o600 });
  return { privateJwk, publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' } };
}

function secretFile(path: string, make: () => string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = make();
  writeFileSync(path, value, { mode: 0o600 });
  chmodSync(path, 0o600);
  return value;
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_ADMIN_CONFLICT') throw err;
  }
}
