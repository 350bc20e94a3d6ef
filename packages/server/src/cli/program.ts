/**
 * The `writ` command tree. `writ dev` and `writ serve` run the server; every other command drives the admin API
 * over HTTP (WRIT_URL, default http://127.0.0.1:7420; WRIT_ADMIN_TOKEN). Built by a function, apart from main.ts,
 * so tests can inspect the tree without parsing argv.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { processEnvironment, WRIT_VERSION } from '../config/index.js';
import type { ValidationResult } from '../policy/index.js';
import { printValidation } from './print.js';
import { addAuditCommands } from './audit-commands.js';
import { client, enc, fail, listCommand, output, qs } from './cli-support.js';
import { addVaultCommands } from './vault-commands.js';
import { addAgentCommands } from './agent-commands.js';
import { addApprovalCommands } from './approval-commands.js';
import { addPostureCommand } from './posture-command.js';

export function buildProgram(): Command {
  const program = new Command();
  program.name('writ').description('Writ — identity and access control plane for AI agents').version(WRIT_VERSION);

  program
    .command('dev')
    .description('run Writ on its embedded default (SQLite, loopback only) with a demo setup and a scripted demo agent')
    .addOption(new Option('-p, --port <port>', 'port (WRIT_PORT)').argParser(parsePort))
    .option('--data-dir <dir>', 'where the dev database and keys live', '.writ')
    .option('--keep-data', 'keep the previous dev database instead of starting clean', false)
    .option('--no-demo', 'set up the demo but do not run the demo agent')
    .option('--exit-after-demo', 'stop after the demo (for scripts and tests)', false)
    .action(async (opts: { port?: number; dataDir: string; keepData: boolean; demo: boolean; exitAfterDemo: boolean }) => {
      await (await devTooling()).runDev({ ...opts, env: processEnvironment() });
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
    .addOption(
      new Option(
        '--workers <n>',
        'event loops (processes) serving the port, with the guarantees of one (WRIT_WORKERS; default "auto": one per core)',
      ).argParser(parseWorkers),
    )
    .action(async (opts: { config?: string; port?: number; role?: string; workers?: number | 'auto' }) => {
      const { runServe } = await import('./serve.js');
      await runServe(opts);
    });

  const jsonOpt = new Option('--json', 'print JSON');

  addAgentCommands(program);
  addApprovalCommands(program);
  addPostureCommand(program);

  const workloadIssuers = program
    .command('workload-issuers')
    .description('trusted workload-identity issuers (Kubernetes, SPIFFE, OIDC workload tokens)');
  listCommand(workloadIssuers, 'list trusted workload-identity issuers', '/workload-issuers', ['id', 'kind', 'issuer', 'audience']);
  workloadIssuers
    .command('create <id>')
    .description('trust a workload-identity issuer')
    .requiredOption('--kind <kind>', 'kubernetes | spiffe | oidc')
    .requiredOption('--issuer <url>', "the tokens' iss, exactly")
    .requiredOption('--audience <aud>', "what the tokens' aud must contain (usually Writ's public URL)")
    .option('--discovery', 'find the keys through OpenID discovery at the issuer')
    .option('--jwks-uri <url>', 'fetch the keys from this URL')
    .option('--jwks <file>', 'a static JWKS file (e.g. a SPIFFE trust bundle)')
    .action(
      async (id: string, o: { kind: string; issuer: string; audience: string; discovery?: boolean; jwksUri?: string; jwks?: string }) =>
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
  workloadIssuers
    .command('delete <id>')
    .description('stop trusting a workload-identity issuer')
    .action(async (id: string) => client().delete(`/workload-issuers/${enc(id)}`));

  const resources = program.command('resources').description('upstreams reached through the gateway');
  listCommand(resources, 'list resources', '/resources', ['id', 'kind', 'baseUrl', 'secretId']);
  resources
    .command('create <id>')
    .description('register a resource and how its secret is injected')
    .option('--kind <kind>', 'http | mcp', 'http')
    .option('--base-url <url>', "the HTTP API base URL, or an MCP server's Streamable HTTP endpoint")
    .option('--mcp <json>', "an MCP resource's upstreams and bearer setting, as JSON or @file (docs/mcp.md)")
    .option('--secret <id>', 'secret to inject')
    .option('--inject <rule>', 'bearer | basic:<username> | header:<Name>[:<prefix>] | query:<name>')
    .option('--description <text>', 'what the resource is', '')
    .action(
      async (id: string, o: { kind: string; baseUrl?: string; mcp?: string; secret?: string; inject?: string; description: string }) =>
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

  addVaultCommands(program);

  const grants = program.command('grants').description('Cedar grants');
  listCommand(grants, 'list grants', '/grants', ['id', 'enabled', 'mode', 'description']);
  grants
    .command('create <id>')
    .description('add a grant; it is stored only if it validates against the Writ schema')
    .requiredOption('--policy <file>', 'Cedar policy file')
    .option('--description <text>', 'what the grant allows', '')
    .option('--observe', 'deploy it to observe: evaluated beside the enforced grants, never changing an answer')
    .action(async (id: string, o: { policy: string; description: string; observe?: boolean }) =>
      output(
        await client().post('/grants', {
          id,
          description: o.description,
          policy: readFileSync(o.policy, 'utf8'),
          ...(o.observe === true ? { mode: 'observe' } : {}),
        }),
        true,
      ),
    );
  grants
    .command('mode <id> <mode>')
    .description('promote an observed grant to enforce, or take one back to observe')
    .action(async (id: string, mode: string) => output(await client().post(`/grants/${enc(id)}/mode`, { mode }), true));
  grants
    .command('observe-report')
    .description('what the observed grants would have allowed or denied on live calls, per grant, resource and action')
    .option('--hours <n>', 'the last this many hours', '24')
    .addOption(jsonOpt)
    .action(async (o: { hours: string; json?: boolean }) => {
      const hours = Number(o.hours);
      if (!Number.isFinite(hours) || hours <= 0) fail('--hours: a positive number');
      const report = await client().get<{ rows: Array<Record<string, unknown>>; records: number; truncated: boolean }>(
        `/grants/observe-report?since=${Date.now() - Math.round(hours * 3600_000)}`,
      );
      if (o.json === true) return output(report, true);
      output(report.rows, false, ['grant', 'resource', 'action', 'wouldAllow', 'wouldDeny']);
      console.log(`${report.records} differences recorded${report.truncated ? ' (more exist: narrow the window)' : ''}`);
    });
  grants
    .command('validate <file>')
    .description('check a policy file against the Writ schema without storing it; exits 1 if it is invalid')
    .addOption(jsonOpt)
    .action(async (file: string, o: { json?: boolean }) => {
      const answer = await client().post<ValidationResult>('/grants/validate', { policy: readFileSync(file, 'utf8') });
      if (o.json === true) console.log(JSON.stringify(answer, null, 2));
      else printValidation(file, answer);
      // The API answers 200 either way (the request was fine, the policy was not); scripts need the verdict.
      if (!answer.ok) process.exitCode = 1;
    });
  grants
    .command('delete <id>')
    .description('remove a grant')
    .action(async (id: string) => client().delete(`/grants/${enc(id)}`));

  const tasks = program.command('tasks').description('tasks and their tokens');
  tasks
    .command('list')
    .description('list tasks, newest first')
    .option('--agent <id>', 'only tasks of this agent')
    .option('--user <id>', 'only tasks started by this user (idp:sub)')
    .option('--status <status>', 'active | completed | revoked | expired')
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
  tasks
    .command('show <id>')
    .description('show a task')
    .action(async (id: string) => output(await client().get(`/tasks/${enc(id)}`), true));
  tasks
    .command('revoke <id>')
    .description('revoke a task and every descendant task')
    .requiredOption('--reason <text>', 'why, for the audit log')
    .action(async (id: string, o: { reason: string }) =>
      output(await client().post(`/tasks/${enc(id)}/revoke`, { reason: o.reason }), true),
    );

  const consents = program.command('consents').description('consents people asked Writ to remember for stock OAuth/MCP clients');
  consents
    .command('list')
    .description('list consents in force, newest first')
    .option('--user <id>', "only this user's (idp:sub)")
    .option('--client <client_id>', 'only for this client (its client_id, a URL for a metadata document)')
    .option('--agent <id>', 'only for this client agent')
    .option('--all', 'also withdrawn and expired ones')
    .addOption(jsonOpt)
    .action(async (o: { user?: string; client?: string; agent?: string; all?: boolean; json?: boolean }) =>
      output(
        await client().get(`/consents${qs({ user: o.user, client: o.client, agent: o.agent, all: o.all === true ? 'true' : undefined })}`),
        o.json === true,
        ['id', 'userId', 'clientId', 'resourceId', 'status', 'expiresAt'],
      ),
    );
  consents
    .command('revoke <id>')
    .description('withdraw a consent: never reused, and the tasks it let the client start there end now')
    .option('--reason <text>', 'why, for the audit log', 'consent withdrawn')
    .action(async (id: string, o: { reason: string }) =>
      output(await client().post(`/consents/${enc(id)}/revoke`, { reason: o.reason }), true),
    );

  const revoke = program
    .command('revoke')
    .description('stop a credential, a task subtree, an agent, a user, a DPoP key, a tool, or everything');
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
      .requiredOption('--reason <text>', 'why, for the audit log')
      .action(async (value: string, o: { reason: string }) =>
        output(await client().post('/revocations', { target: target(value), reason: o.reason }), true),
      );
  }
  revoke
    .command('tool <resource> <tool>')
    .description("one resource's tool (MCP) or action ('DELETE /v1/projects/*', HTTP) for every caller, until lifted")
    .requiredOption('--reason <text>', 'why, for the audit log')
    .action(async (resourceId: string, tool: string, o: { reason: string }) =>
      output(await client().post('/revocations', { target: { type: 'tool', resourceId, tool }, reason: o.reason }), true),
    );
  revoke
    .command('lift <resource> <tool>')
    .description('lift a killed tool or action: it answers again everywhere')
    .requiredOption('--reason <text>', 'why, for the audit log')
    .action(async (resourceId: string, tool: string, o: { reason: string }) =>
      output(await client().post('/revocations/lift', { target: { type: 'tool', resourceId, tool }, reason: o.reason }), true),
    );
  revoke
    .command('all')
    .description('every token issued until now')
    .requiredOption('--reason <text>', 'why, for the audit log')
    .requiredOption('--yes', 'confirm')
    .action(async (o: { reason: string }) =>
      output(await client().post('/revocations', { target: { type: 'all' }, reason: o.reason }), true),
    );

  const keys = program.command('keys').description('token-signing keys');
  listCommand(keys, 'list the published token-signing keys', '/keys', ['kid', 'alg', 'active']);
  keys
    .command('rotate')
    .description('a new signing key now; the previous one stays published until its tokens have expired')
    .option('--alg <alg>', 'ES256 | EdDSA | RS256 (default: the current one)')
    .action(async (o: { alg?: string }) => output(await client().post('/keys/rotate', o.alg !== undefined ? { alg: o.alg } : {}), true));

  const ssf = program.command('ssf').description('the Shared Signals transmitter (CAEP session-revoked SETs)');
  const ssfReceivers = ssf.command('receivers').description('receivers: who may create and poll SSF streams');
  listCommand(ssfReceivers, 'list receivers (their tokens are never shown again)', '/ssf/receivers', ['id', 'name', 'audience', 'scopes']);
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
  ssfReceivers
    .command('delete <id>')
    .description('delete a receiver with its streams and the SETs queued for them')
    .action(async (id: string) => client().delete(`/ssf/receivers/${enc(id)}`));

  addAuditCommands(program, jsonOpt);
  return program;
}

/** `<group> list`: the collection as a table, or as JSON with --json. */

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--port: expected an integer from 0 to 65535, got ${JSON.stringify(v)}`);
  return n;
}
function parseWorkers(v: string): number | 'auto' {
  if (v === 'auto') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) fail(`--workers: expected an integer from 1 to 256 or "auto", got ${JSON.stringify(v)}`);
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

/** What `writ dev` needs from the development tooling (the private `@writ/dev` package). */
interface DevTooling {
  runDev(opts: {
    port?: number | undefined;
    dataDir: string;
    keepData: boolean;
    demo: boolean;
    exitAfterDemo: boolean;
    env: Readonly<Record<string, string | undefined>>;
  }): Promise<unknown>;
}

/**
 * `writ dev` runs the development tooling, which lives in a package of its own that is never published: the
 * published server carries no dev-only dependencies. It is found at run time, in a clone of the repository.
 */
async function devTooling(): Promise<DevTooling> {
  const specifier = '@writ/dev';
  try {
    const mod = (await import(specifier)) as Partial<DevTooling>;
    if (typeof mod.runDev === 'function') return mod as DevTooling;
  } catch (err) {
    // Only the package itself being absent means "not a clone"; anything it fails to load is an error to show.
    const e = err as { code?: string; message?: string };
    if (e.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes(`'${specifier}'`)) throw err;
  }
  return fail(
    'writ dev runs from a clone of the Writ repository (npm ci && npm run dev): its tooling is not part of the published package',
  );
}
