/**
 * Reads `writ.yaml` (or the file named by WRIT_CONFIG / --config), applies environment overrides, validates once
 * and freezes. Nothing outside `config/` reads `process.env`. A bad value stops the start with a message that
 * names the key and what was expected.
 */
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { InternalErrorCode } from '../errors/index.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { processEnvironment } from './environment.js';

export interface WritConfig extends ParsedConfig {
  /** WRIT_ADMIN_TOKEN: a fixed admin token for scripts (never written to a file or log). */
  adminToken: string | undefined;
}

export class ConfigError extends Error {
  readonly code: Extract<InternalErrorCode, 'ERR_CONFIG_INVALID'> = 'ERR_CONFIG_INVALID';
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/**
 * Environment variable → config key path, and how to parse the string. Exported because the configuration reference
 * (config-reference.ts) takes its environment column from this same table.
 */
export const ENV_OVERRIDES: ReadonlyArray<readonly [string, readonly string[], 'string' | 'int' | 'int-or-auto' | 'list' | 'boolean']> = [
  ['WRIT_HOST', ['server', 'host'], 'string'],
  ['WRIT_PORT', ['server', 'port'], 'int'],
  ['WRIT_WORKERS', ['server', 'workers'], 'int-or-auto'],
  ['WRIT_PUBLIC_URL', ['server', 'publicUrl'], 'string'],
  ['WRIT_DATABASE_URL', ['storage', 'databaseUrl'], 'string'],
  ['WRIT_SQLITE_PATH', ['storage', 'sqlitePath'], 'string'],
  ['WRIT_KEK', ['vault', 'kek'], 'string'],
  ['WRIT_KEK_ID', ['vault', 'kekId'], 'string'],
  ['WRIT_KEK_PREVIOUS', ['vault', 'previousKeks'], 'list'],
  ['WRIT_LOG_LEVEL', ['log', 'level'], 'string'],
  ['WRIT_ROLE', ['cluster', 'role'], 'string'],
  ['WRIT_NODE_ID', ['cluster', 'nodeId'], 'string'],
  ['WRIT_EGRESS_ALLOW', ['egress', 'allow'], 'list'],
  ['WRIT_LOGIN_CLIENT_SECRET', ['authorization', 'login', 'clientSecret'], 'string'],
  ['WRIT_REGISTRATION_TOKEN', ['authorization', 'registration', 'initialAccessToken'], 'string'],
  ['WRIT_APPROVALS_WEBHOOK_AUTHORIZATION', ['approvals', 'webhook', 'authorization'], 'string'],
  ['WRIT_REDIS_URL', ['budgets', 'redisUrl'], 'string'],
  ['WRIT_BUDGETS_ASYNCHRONOUS_COMMIT', ['budgets', 'asynchronousCommit'], 'boolean'],
  ['WRIT_DPOP_REPLAY_ASYNCHRONOUS_COMMIT', ['dpop', 'replayAsynchronousCommit'], 'boolean'],
  // OpenTelemetry's standard variables (the OTLP exporter specification); the signal-specific ones win.
  ['OTEL_TRACES_EXPORTER', ['tracing', 'exporter'], 'string'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', ['tracing', 'endpoint'], 'string'],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', ['tracing', 'tracesEndpoint'], 'string'],
  ['OTEL_EXPORTER_OTLP_HEADERS', ['tracing', 'headers'], 'string'],
  ['OTEL_EXPORTER_OTLP_TRACES_HEADERS', ['tracing', 'tracesHeaders'], 'string'],
  ['OTEL_SERVICE_NAME', ['tracing', 'serviceName'], 'string'],
];

export interface LoadConfigOptions {
  /** Explicit file; `null` for none; otherwise WRIT_CONFIG, otherwise ./writ.yaml when it exists. */
  file?: string | null | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values that win over file and environment (command-line flags). */
  overrides?: Record<string, unknown>;
}

export function loadConfig(opts: LoadConfigOptions = {}): WritConfig {
  const env = opts.env ?? processEnvironment();
  const fromEnv = env['WRIT_CONFIG'] === '' ? undefined : env['WRIT_CONFIG'];
  const file = opts.file === null ? undefined : (opts.file ?? fromEnv ?? (existsSync('writ.yaml') ? 'writ.yaml' : undefined));
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError([`${file}: not valid YAML: ${(err as Error).message}`]);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError([`${file}: must be a mapping`]);
  }
  const merged = structuredClone(raw) as Record<string, unknown>;
  const issues: string[] = [];
  for (const [name, path, kind] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (kind === 'int' || kind === 'int-or-auto') {
      if (kind === 'int-or-auto' && value === 'auto') {
        setPath(merged, path, value);
        continue;
      }
      if (!/^\d+$/.test(value)) {
        issues.push(`${name} (${path.join('.')}): expected an integer, got ${JSON.stringify(value)}`);
        continue;
      }
      setPath(merged, path, Number(value));
    } else if (kind === 'boolean') {
      if (value !== 'true' && value !== 'false') {
        issues.push(`${name} (${path.join('.')}): expected true or false, got ${JSON.stringify(value)}`);
        continue;
      }
      setPath(merged, path, value === 'true');
    } else if (kind === 'list')
      setPath(
        merged,
        path,
        value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== ''),
      );
    else setPath(merged, path, value);
  }
  for (const [key, value] of Object.entries(opts.overrides ?? {})) {
    if (value !== undefined) setPath(merged, key.split('.'), value);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  const cfg = parsed.data;
  if (cfg.cluster.role !== 'both' && cfg.storage.databaseUrl === undefined)
    throw new ConfigError([
      `cluster.role: '${cfg.cluster.role}' needs storage.databaseUrl (PostgreSQL shared by the cluster); the embedded SQLite is one node`,
    ]);
  const adminToken = env['WRIT_ADMIN_TOKEN'];
  if (adminToken !== undefined && adminToken !== '' && adminToken.length < 16) {
    throw new ConfigError(['WRIT_ADMIN_TOKEN: expected at least 16 characters']);
  }
  return deepFreeze({
    ...cfg,
    server: { ...cfg.server, ...(cfg.server.publicUrl !== undefined ? { publicUrl: cfg.server.publicUrl.replace(/\/+$/, '') } : {}) },
    adminToken: adminToken === '' ? undefined : adminToken,
  });
}

/** The URL a listening server is reachable at, for the default public URL (issuer) when none is configured. */
export function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const key = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    if (issue.code === 'unrecognized_keys') return `${key}: unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    return `${key}: ${issue.message}`;
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
