#!/usr/bin/env node
/**
 * `writ` — the command line. `writ dev` and `writ serve` run the server; every other command drives the admin API
 * over HTTP (WRIT_URL, default http://127.0.0.1:7420; WRIT_ADMIN_TOKEN).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { DEFAULT_PORT } from '@writ/protocol';
import { AdminClient, AdminClientError, printAuditChain } from '../admin-client/index.js';
import { printTable } from './print.js';

const program = new Command();
program.name('writ').description('Writ — identity and access control plane for AI agents').version('0.1.0');

program
  .command('dev')
  .description('run Writ on its embedded default (SQLite, loopback only) with a demo setup and a scripted demo agent')
  .addOption(new Option('-p, --port <port>', 'port (WRIT_PORT)').argParser(parsePort))
  .option('--data-dir <dir>', 'where the dev database and keys live', '.writ')
  .option('--keep-data', 'keep the previous dev database instead of starting clean', false)
  .option('--no-demo', 'set up the demo but do not run the demo agent')
  .option('--exit-after-demo', 'stop after the demo (for scripts and tests)', false)
  .action(async (opts: { port?: number; dataDir: string; keepData: boolean; demo: boolean; exitAfterDemo: boolean }) => {
    const { runDev } = await import('../dev/run-dev.js');
    await runDev(opts);
  });

program
  .command('serve')
  .description('run Writ from writ.yaml and the environment')
  .option('-c, --config <file>', 'configuration file (WRIT_CONFIG; default ./writ.yaml if present)')
  .addOption(new Option('-p, --port <port>', 'port (WRIT_PORT)').argParser(parsePort))
  .addOption(
    new Option('--role <role>', 'cluster role (WRIT_ROLE): control, gateway or both; control and gateway need PostgreSQL').choices([
      'both',
      'control',
      'gateway',
    ]),
  )
  .action(async (opts: { config?: string; port?: number; role?: string }) => {
    const { runServe } = await import('./serve.js');
    await runServe(opts);
  });

function client(): AdminClient {
  const token = process.env['WRIT_ADMIN_TOKEN'];
  if (token === undefined || token === '') {
    fail('set WRIT_ADMIN_TOKEN to an admin token (writ dev prints one)');
  }
  return new AdminClient(process.env['WRIT_URL'] ?? `http://127.0.0.1:${process.env['WRIT_PORT'] ?? DEFAULT_PORT}`, token);
}

function output(value: unknown, json: boolean, columns?: string[]): void {
  if (json || columns === undefined || !Array.isArray(value)) console.log(JSON.stringify(value, null, 2));
  else printTable(value as Record<string, unknown>[], columns);
}

const jsonOpt = new Option('--json', 'print JSON');

const agents = program.command('agents').description('the agent register (NHI inventory)');
agents
  .command('list')
  .addOption(jsonOpt)
  .action(async (o: { json?: boolean }) =>
    output(await client().get('/agents'), o.json === true, ['id', 'name', 'owner', 'kind', 'status']),
  );
agents.command('show <id>').action(async (id: string) => output(await client().get(`/agents/${enc(id)}`), true));
agents
  .command('create <id>')
  .requiredOption('--name <name>')
  .requiredOption('--owner <owner>')
  .option('--jwks <file>', "file with the agent's public JWKS (private_key_jwt)")
  .option('--workload <issuer=pattern>', 'workload-identity binding: workload issuer id and sub pattern (repeatable)', collect, [])
  .option('--kind <kind>', 'agent | service_account | workload', 'agent')
  .option('--description <text>', '', '')
  .action(async (id: string, o: { name: string; owner: string; jwks?: string; workload: string[]; kind: string; description: string }) =>
    output(
      await client().post('/agents', {
        id,
        name: o.name,
        owner: o.owner,
        kind: o.kind,
        description: o.description,
        ...(o.jwks !== undefined ? { jwks: JSON.parse(readFileSync(o.jwks, 'utf8')) as unknown } : {}),
        workload: o.workload.map(parseBinding),
      }),
      true,
    ),
  );
for (const [cmd, status] of [
  ['suspend', 'suspended'],
  ['offboard', 'offboarded'],
  ['activate', 'active'],
] as const) {
  agents
    .command(`${cmd} <id>`)
    .option('--reason <text>')
    .action(async (id: string, o: { reason?: string }) =>
      output(await client().post(`/agents/${enc(id)}/status`, { status, ...(o.reason !== undefined ? { reason: o.reason } : {}) }), true),
    );
}

const workloadIssuers = program
  .command('workload-issuers')
  .description('trusted workload-identity issuers (Kubernetes, SPIFFE, OIDC workload tokens)');
workloadIssuers
  .command('list')
  .addOption(jsonOpt)
  .action(async (o: { json?: boolean }) =>
    output(await client().get('/workload-issuers'), o.json === true, ['id', 'kind', 'issuer', 'audience']),
  );
workloadIssuers
  .command('create <id>')
  .requiredOption('--kind <kind>', 'kubernetes | spiffe | oidc')
  .requiredOption('--issuer <url>', "the tokens' iss, exactly")
  .requiredOption('--audience <aud>', "what the tokens' aud must contain (usually Writ's public URL)")
  .option('--discovery', 'find the keys through OpenID discovery at the issuer')
  .option('--jwks-uri <url>', 'fetch the keys from this URL')
  .option('--jwks <file>', 'a static JWKS file (e.g. a SPIFFE trust bundle)')
  .action(async (id: string, o: { kind: string; issuer: string; audience: string; discovery?: boolean; jwksUri?: string; jwks?: string }) =>
    output(
      await client().post('/workload-issuers', {
        id,
        kind: o.kind,
        issuer: o.issuer,
        audience: o.audience,
        discovery: o.discovery === true,
        ...(o.jwksUri !== undefined ? { jwksUri: o.jwksUri } : {}),
        ...(o.jwks !== undefined ? { jwks: JSON.parse(readFileSync(o.jwks, 'utf8')) as unknown } : {}),
      }),
      true,
    ),
  );
workloadIssuers.command('delete <id>').action(async (id: string) => client().delete(`/workload-issuers/${enc(id)}`));

const resources = program.command('resources').description('upstreams reached through the gateway');
resources
  .command('list')
  .addOption(jsonOpt)
  .action(async (o: { json?: boolean }) =>
    output(await client().get('/resources'), o.json === true, ['id', 'kind', 'baseUrl', 'secretId']),
  );
resources
  .command('create <id>')
  .option('--kind <kind>', 'http | mcp', 'http')
  .option('--base-url <url>', "the HTTP API base URL, or an MCP server's Streamable HTTP endpoint")
  .option('--mcp <json>', "an MCP resource's upstreams and bearer setting, as JSON or @file (docs/mcp.md)")
  .option('--secret <id>', 'secret to inject')
  .option('--inject <rule>', 'bearer | basic:<username> | header:<Name>[:<prefix>] | query:<name>')
  .option('--description <text>', '', '')
  .action(async (id: string, o: { kind: string; baseUrl?: string; mcp?: string; secret?: string; inject?: string; description: string }) =>
    output(
      await client().post('/resources', {
        id,
        kind: o.kind,
        description: o.description,
        ...(o.baseUrl !== undefined ? { baseUrl: o.baseUrl } : {}),
        ...(o.mcp !== undefined
          ? { mcp: JSON.parse(o.mcp.startsWith('@') ? readFileSync(o.mcp.slice(1), 'utf8') : o.mcp) as unknown }
          : {}),
        ...(o.secret !== undefined ? { secretId: o.secret } : {}),
        ...(o.inject !== undefined ? { inject: parseInject(o.inject) } : {}),
      }),
      true,
    ),
  );

const secrets = program.command('secrets').description('the vault (write-only: values are never shown)');
secrets
  .command('list')
  .addOption(jsonOpt)
  .action(async (o: { json?: boolean }) =>
    output(await client().get('/secrets'), o.json === true, ['id', 'current_version', 'description']),
  );
secrets
  .command('put <id>')
  .description('store a new version; the value is read from standard input so it stays out of shell history')
  .option('--description <text>', '', '')
  .action(async (id: string, o: { description: string }) => {
    const value = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    output(await client().put(`/secrets/${enc(id)}`, { value, description: o.description }), true);
  });

const grants = program.command('grants').description('Cedar grants');
grants
  .command('list')
  .addOption(jsonOpt)
  .action(async (o: { json?: boolean }) => output(await client().get('/grants'), o.json === true, ['id', 'enabled', 'description']));
grants
  .command('create <id>')
  .requiredOption('--policy <file>', 'Cedar policy file')
  .option('--description <text>', '', '')
  .action(async (id: string, o: { policy: string; description: string }) =>
    output(await client().post('/grants', { id, description: o.description, policy: readFileSync(o.policy, 'utf8') }), true),
  );
grants
  .command('validate <file>')
  .action(async (file: string) => output(await client().post('/grants/validate', { policy: readFileSync(file, 'utf8') }), true));
grants.command('delete <id>').action(async (id: string) => client().delete(`/grants/${enc(id)}`));

const tasks = program.command('tasks').description('tasks and their tokens');
tasks
  .command('list')
  .option('--agent <id>')
  .option('--user <id>')
  .option('--status <status>')
  .addOption(jsonOpt)
  .action(async (o: { agent?: string; user?: string; status?: string; json?: boolean }) =>
    output(await client().get(`/tasks${qs({ agent: o.agent, user: o.user, status: o.status })}`), o.json === true, [
      'id',
      'agentId',
      'userId',
      'resourceId',
      'status',
      'purpose',
    ]),
  );
tasks.command('show <id>').action(async (id: string) => output(await client().get(`/tasks/${enc(id)}`), true));
tasks
  .command('revoke <id>')
  .requiredOption('--reason <text>')
  .action(async (id: string, o: { reason: string }) => output(await client().post(`/tasks/${enc(id)}/revoke`, { reason: o.reason }), true));

const revoke = program.command('revoke').description('stop a credential, a task subtree, an agent, a user, a DPoP key, or everything');
const revokeTargets: Array<[string, string, (v: string) => Record<string, string>]> = [
  ['token <jti>', 'one task token', (v) => ({ type: 'token', jti: v })],
  ['task <id>', 'a task and every descendant', (v) => ({ type: 'task', taskId: v })],
  ['agent <id>', 'an agent: suspends it and kills every token it holds', (v) => ({ type: 'agent', agentId: v })],
  ['user <id>', 'everything a user started (id as idp:sub)', (v) => ({ type: 'user', userId: v })],
  ['key <jkt>', 'a DPoP key by its thumbprint', (v) => ({ type: 'key', jkt: v })],
];
for (const [spec, desc, target] of revokeTargets) {
  revoke
    .command(spec)
    .description(desc)
    .requiredOption('--reason <text>')
    .action(async (value: string, o: { reason: string }) =>
      output(await client().post('/revocations', { target: target(value), reason: o.reason }), true),
    );
}
revoke
  .command('all')
  .description('every token issued until now')
  .requiredOption('--reason <text>')
  .requiredOption('--yes', 'confirm')
  .action(async (o: { reason: string }) =>
    output(await client().post('/revocations', { target: { type: 'all' }, reason: o.reason }), true),
  );

const keys = program.command('keys').description('token-signing keys');
keys
  .command('list')
  .addOption(jsonOpt)
  .action(async (o: { json?: boolean }) => output(await client().get('/keys'), o.json === true, ['kid', 'alg', 'active']));
keys
  .command('rotate')
  .description('a new signing key now; the previous one stays published until its tokens have expired')
  .option('--alg <alg>', 'ES256 | EdDSA | RS256 (default: the current one)')
  .action(async (o: { alg?: string }) => output(await client().post('/keys/rotate', o.alg !== undefined ? { alg: o.alg } : {}), true));

const ssf = program.command('ssf').description('the Shared Signals transmitter (CAEP session-revoked SETs)');
const ssfReceivers = ssf.command('receivers').description('receivers: who may create and poll SSF streams');
ssfReceivers
  .command('list')
  .addOption(jsonOpt)
  .action(async (o: { json?: boolean }) =>
    output(await client().get('/ssf/receivers'), o.json === true, ['id', 'name', 'audience', 'scopes']),
  );
ssfReceivers
  .command('create <name>')
  .description('a new receiver; its bearer token is printed once')
  .requiredOption('--audience <aud>', "the aud of this receiver's SETs")
  .option('--scope <scope...>', 'ssf.manage, ssf.read and/or writ.revocation_feed (default: ssf.manage ssf.read)')
  .action(async (name: string, o: { audience: string; scope?: string[] }) =>
    output(
      await client().post('/ssf/receivers', { name, audience: o.audience, ...(o.scope !== undefined ? { scopes: o.scope } : {}) }),
      true,
    ),
  );
ssfReceivers.command('delete <id>').action(async (id: string) => client().delete(`/ssf/receivers/${enc(id)}`));

const audit = program.command('audit').description('the tamper-evident audit log');
audit
  .command('list')
  .option('--task <id>')
  .option('--agent <id>')
  .option('--user <id>')
  .option('--trace <id>')
  .option('--type <type>')
  .option('--since <time>', 'ISO time or epoch ms')
  .option('--until <time>', 'ISO time or epoch ms')
  .option('--limit <n>', '', '100')
  .addOption(jsonOpt)
  .action(
    async (o: {
      task?: string;
      agent?: string;
      user?: string;
      trace?: string;
      type?: string;
      since?: string;
      until?: string;
      limit: string;
      json?: boolean;
    }) => {
      const events = await client().get(
        `/audit${qs({ task: o.task, agent: o.agent, user: o.user, trace: o.trace, type: o.type, since: time(o.since), until: time(o.until), limit: o.limit })}`,
      );
      output(events, o.json === true, ['seq', 'time', 'type', 'decision', 'reason', 'agent_id', 'task_id', 'action']);
    },
  );
audit
  .command('verify')
  .description('verify the hash chain; reports the first altered, inserted or removed event')
  .action(async () => {
    const r = await client().get<{ ok: boolean }>('/audit/verify');
    console.log(JSON.stringify(r, null, 2));
    if (!r.ok) process.exitCode = 2;
  });
audit
  .command('chain <taskId>')
  .description("print a task's chain: user → agent → calls, with decisions")
  .action(async (taskId: string) => printAuditChain(await client().get(`/tasks/${enc(taskId)}/audit`)));

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--port: expected an integer from 0 to 65535, got ${JSON.stringify(v)}`);
  return n;
}
function parseInject(v: string): Record<string, string> {
  const [mode, a, b] = v.split(':');
  if (mode === 'bearer') return { mode };
  if (mode === 'basic' && a !== undefined) return { mode, username: a };
  if (mode === 'header' && a !== undefined) return { mode, name: a, ...(b !== undefined ? { prefix: b } : {}) };
  if (mode === 'query' && a !== undefined) return { mode, name: a };
  return fail(`--inject: expected bearer | basic:<username> | header:<Name>[:<prefix>] | query:<name>, got ${JSON.stringify(v)}`);
}
function time(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return v;
  const t = Date.parse(v);
  if (Number.isNaN(t)) fail(`expected an ISO time or epoch milliseconds, got ${JSON.stringify(v)}`);
  return String(t);
}
function qs(q: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, v);
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}
function enc(v: string): string {
  return encodeURIComponent(v);
}
function fail(message: string): never {
  console.error(`writ: ${message}`);
  process.exit(2);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof AdminClientError) {
    console.error(`writ: ${err.code}: ${err.message}`);
    for (const d of err.details) console.error(`  - ${d}`);
  } else if ((err as { name?: string }).name === 'ConfigError') {
    console.error(`writ: ${(err as Error).message}`);
  } else {
    console.error(`writ: ${(err as Error)?.message ?? String(err)}`);
  }
  process.exit(1);
});

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseBinding(value: string): { issuer: string; subject: string } {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--workload wants <issuer>=<subject pattern>, got ${value}`);
  return { issuer: value.slice(0, eq), subject: value.slice(eq + 1) };
}
