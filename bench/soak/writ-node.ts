/**
 * The Writ process under soak: the real server on SQLite (the embedded default, where cedar-wasm and
 * better-sqlite3 would share a process) or, given a database URL, on PostgreSQL; a dev identity provider, seeded for one agent whose public key the
 * driver sends. Reports memory (after a full GC, so the figure is live data, not garbage) on request.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AdminClient, loadConfig, silentLogger, startWritServer } from '@writ/server';
import { startDevIdentityProvider } from '@writ/dev';
import { seedWrit } from '@writ/dev/kit';

interface Setup {
  upstream: string;
  agentJwk: Record<string, unknown>;
  /** PostgreSQL instead of a SQLite file in a temporary directory. */
  databaseUrl?: string;
}

async function main(setup: Setup): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'writ-soak-'));
  const adminToken = `soak_${randomBytes(16).toString('hex')}`;
  const idp = await startDevIdentityProvider({ port: 0 });
  const config = loadConfig({
    file: null,
    env: { WRIT_KEK: randomBytes(32).toString('base64'), WRIT_ADMIN_TOKEN: adminToken },
    // One-minute tokens: every cache and the revocation set reach their steady state early in the run, so a
    // flat heap means flat, not "not yet full".
    overrides: {
      'server.port': 0,
      ...(setup.databaseUrl !== undefined ? { 'storage.databaseUrl': setup.databaseUrl } : { 'storage.sqlitePath': join(dir, 'writ.db') }),
      'log.level': 'warn',
      'tokens.defaultLifetimeSeconds': 60,
      'egress.allow': ['127.0.0.0/8'],
      // One agent and task drive the whole load here: the per-agent and per-task upstream shares (which would refuse
      // most of it, 429) are opened to the total, so the bench measures the path, the lease included, not the bound.
      'limits.upstreamConnections': 1024,
      'limits.upstreamConnectionsPerAgent': 1024,
      'limits.upstreamConnectionsPerTask': 1024,
      // Stock clients (bench/token-exchange's refresh-grant line): sign-in at the dev provider, open registration.
      'authorization.login.provider': 'dev',
      'authorization.login.clientId': idp.loginClientId,
      'authorization.registration.mode': 'open',
      'authorization.registration.newClientStatus': 'active',
    },
  });
  const writ = await startWritServer({ config, logger: silentLogger() });
  const admin = new AdminClient(writ.url, adminToken);
  await seedWrit(admin, {
    idp,
    upstream: setup.upstream,
    grant: {
      id: 'soak',
      policy:
        'permit (principal == Writ::Agent::"soak-agent", action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.user == Writ::User::"dev:alice" && ["GET", "POST"].contains(context.method) && context.path like "/v1/*" };',
    },
  });
  // An HTTP API with a scope, for stock clients (consent offers a resource's scopes).
  await admin.post('/resources', {
    id: 'api-scoped',
    baseUrl: setup.upstream,
    secretId: 'api-key',
    inject: { mode: 'bearer' },
    scopes: { read: [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }] },
  });
  await admin.post('/grants', {
    id: 'stock-clients',
    policy:
      'permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"api-scoped") when { principal.kind == "oauth_client" && context.user == Writ::User::"dev:alice" && context.method == "GET" && context.path like "/v1/*" };',
  });
  await admin.post('/agents', { id: 'soak-agent', name: 'soak', owner: 'soak', jwks: { keys: [setup.agentJwk] } });
  const alice = idp.accounts.find((a) => a.username === 'alice');
  const { idToken } = await idp.loginAs('alice', alice?.password);
  process.on('message', (m: { mem?: boolean; exit?: boolean }) => {
    if (m.mem === true) {
      (globalThis as { gc?: () => void }).gc?.();
      const mu = process.memoryUsage();
      process.send?.({
        mem: { rss: mu.rss, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers },
        cpu: process.cpuUsage(),
      });
    }
    if (m.exit === true) void writ.close().then(() => process.exit(0));
  });
  process.send?.({ ready: { url: writ.publicUrl, adminToken, idToken, alicePassword: alice?.password ?? '' } });
}

process.once('message', (m: { setup: Setup }) => {
  main(m.setup).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
