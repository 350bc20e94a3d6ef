/**
 * The one configuration schema: it gives the types, the validation (unknown keys rejected, every value checked) and
 * the defaults. Each key's description is its meaning in `docs/configuration.md`, whose key table is generated from
 * this schema (config-reference.ts, `npm run docs:config`); a test fails when the doc and the schema differ.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_PORT, TOKEN_SIGNING_ALGS } from '@writ/protocol';
import { auditConfig, tracingConfig } from './audit-schema.js';
import { agentsConfig, approvalsConfig, budgetsConfig } from './governance-schema.js';
import { consoleConfig } from './console-schema.js';
import { authorizationConfig } from './authorization-schema.js';

declare module 'zod' {
  interface GlobalMeta {
    /**
     * The default as docs/configuration.md shows it, where the bare value would say less: a unit, or a value worked
     * out at start. It sits beside the `.default()` it renders, so a change to one shows the other.
     */
    defaultText?: string;
  }
}

const port = z.number().int().min(0).max(65535);
const url = z.url({ protocol: /^https?$/ });

/** An `egress.allow` entry: an IPv4 or IPv6 range or address, or a DNS host name. */
const egressEntry = z
  .string()
  .max(253)
  .refine((v) => {
    const slash = v.indexOf('/');
    const address = slash === -1 ? v : v.slice(0, slash);
    const family = isIP(address);
    if (family === 0)
      return slash === -1 && /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(v);
    if (slash === -1) return true;
    const prefix = v.slice(slash + 1);
    return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
  }, 'a CIDR range (10.0.0.0/8, fd00::/8), an IP address or a host name');

/** "`a`, `b` or `c`": the reference lists an enum's values from the enum itself, so a new value cannot go unmentioned. */
function oneOf(values: readonly string[]): string {
  const quoted = values.map((v) => `\`${v}\``);
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1] ?? ''}`;
}

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1').describe('interface to listen on (`writ dev` is always loopback)'),
      port: port.default(DEFAULT_PORT).describe('port (`--port` wins)'),
      workers: z
        .union([z.literal('auto'), z.number().int().min(1).max(256)])
        .default('auto')
        .describe(
          '`writ serve`: event loops (processes) serving the one port, with the guarantees of one: each DPoP proof used once across them, a revocation or change in force in all before it is answered, one audit chain; `auto`: one per core available (`--workers` wins; an in-memory SQLite store runs one; docs/cluster.md)',
        ),
      workerAckTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(5_000)
        .describe('`--workers`: how long a change waits for a sibling loop to hold it before that loop is stopped and started again'),
      publicUrl: url.optional().meta({
        description: "the externally visible base URL: Writ's issuer identifier and the base of every resource URI (`{publicUrl}/r/{id}`)",
        defaultText: '`http://{host}:{port}`',
      }),
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .default(10 * 1024 * 1024)
        .meta({ description: 'largest request body the gateway forwards (`413 ERR_BODY_TOO_LARGE` beyond)', defaultText: '10 MiB' }),
      upstreamTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(30_000)
        .describe('upstream header and body timeout (`504 ERR_UPSTREAM_TIMEOUT`)'),
      headersTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('time a client has to send the request line and every header; beyond, `408` and the connection is closed'),
      requestTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(30_000)
        .describe(
          'time a client has to send a whole request, body included (a body that stalls or falls short of its `Content-Length` is cut here with `408`); responses, streams included, are not limited by it',
        ),
      keepAliveTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(65_000)
        .describe('how long an idle keep-alive connection stays open between requests'),
      maxHeaderBytes: z
        .number()
        .int()
        .min(4096)
        .default(16 * 1024)
        .meta({ description: 'largest request line plus headers, in bytes (`431` beyond)', defaultText: '16 KiB' }),
      maxHeadersCount: z.number().int().min(16).default(100).describe('most request headers accepted (`431` beyond)'),
      adminBodyBytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024)
        .meta({
          description: 'largest body of an admin API, agent API or Shared Signals request (`413` beyond); OAuth forms are capped at 64 KiB',
          defaultText: '1 MiB',
        }),
    })
    .refine((s) => s.headersTimeoutMs <= s.requestTimeoutMs, {
      message: 'headersTimeoutMs must not exceed requestTimeoutMs',
      path: ['headersTimeoutMs'],
    })
    .prefault({}),
  storage: z
    .strictObject({
      databaseUrl: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
        .optional()
        .describe('PostgreSQL URL; when absent, the embedded SQLite file'),
      sqlitePath: z.string().min(1).default('.writ/writ.db').describe('SQLite file (WAL mode)'),
      sqliteSynchronous: z
        .enum(['NORMAL', 'FULL', 'EXTRA'])
        .default('NORMAL')
        .describe(
          "SQLite's `synchronous` setting: NORMAL loses nothing committed when the process dies, but an operating-system crash or power loss can take the last commits; FULL and EXTRA sync at every commit — see [audit.md](audit.md#what-a-crash-can-take)",
        ),
    })
    .prefault({}),
  vault: z
    .strictObject({
      /** Key-encryption key: 32 bytes, base64. Prefer the WRIT_KEK environment variable to keep it out of files. */
      kek: z.string().optional().meta({
        description: 'key-encryption key, 32 random bytes in base64 (`openssl rand -base64 32`); prefer the environment',
        defaultText: '— (required)',
      }),
      kekId: z.string().min(1).default('kek-1').describe('recorded with each envelope, for rotation'),
      previousKeks: z
        .array(z.string().regex(/^[A-Za-z0-9._:-]{1,64}:[A-Za-z0-9+/_=-]+$/, 'id:base64'))
        .default([])
        .describe(
          'KEKs being rotated out, each `id:base64`: still accepted for opening until `writ vault rotate-kek` has re-wrapped everything they sealed — see [vault.md](vault.md#rotating-the-kek)',
        ),
    })
    .prefault({}),
  tokens: z
    .strictObject({
      defaultLifetimeSeconds: z.number().int().positive().max(86_400).default(600).describe('task token lifetime'),
      maxLifetimeSeconds: z.number().int().positive().max(86_400).default(3600).describe('upper bound on any task token'),
      signingAlg: z.enum(TOKEN_SIGNING_ALGS).default('ES256').describe(oneOf(TOKEN_SIGNING_ALGS)),
      signingKeyRotationHours: z
        .number()
        .min(0)
        .max(8760)
        .default(0)
        .describe(
          'rotate the signing key when it is older than this (0: on command only, `writ keys rotate`); the old key stays published until its tokens expired',
        ),
      clockSkewSeconds: z.number().int().min(0).max(300).default(5).describe('accepted skew for `exp`, `nbf`, `iat`'),
      maxDelegationDepth: z
        .number()
        .int()
        .min(0)
        .max(16)
        .default(3)
        .describe('sub-agent levels a task tree may have below its root task; 0 disables delegation'),
    })
    .prefault({}),
  dpop: z
    .strictObject({
      /** How long after its `iat` a DPoP proof is accepted, seconds (RFC 9449 §11.1). */
      proofMaxAgeSeconds: z.number().int().positive().max(600).default(60).describe('how long after `iat` a proof is accepted'),
      /** Require server-issued nonces in every proof (RFC 9449 §8/§9): stronger freshness, one extra round trip. */
      requireNonce: z
        .boolean()
        .default(false)
        .describe(
          "require a server nonce in every DPoP proof (RFC 9449 §8/§9): answered with `use_dpop_nonce` and `DPoP-Nonce`; nonces are stateless (HMAC under a key derived from the KEK), so every node accepts every other's",
        ),
      nonceWindowSeconds: z.number().int().min(5).max(3600).default(60).describe('a nonce is accepted in its window and the next'),
      replayCacheSize: z
        .number()
        .int()
        .positive()
        .default(1_000_000)
        .describe('bound on remembered proof `jti`s; when full, new proofs are refused, never old ones forgotten'),
      replayStore: z
        .enum(['auto', 'memory', 'database'])
        .default('auto')
        .describe(
          '`memory` (this node), `database` (shared by all nodes on the database; one upsert per new proof) or `auto` (database on PostgreSQL, memory on SQLite)',
        ),
      replayAsynchronousCommit: z
        .boolean()
        .default(false)
        .describe(
          'on PostgreSQL, remember proofs on connections of their own that commit without waiting for the WAL flush (`synchronous_commit = off`): a call costs a WAL flush less; if PostgreSQL itself crashes, a proof first seen in its last ~0.6 s could be replayed once to another node within its `proofMaxAgeSeconds` — see [security.md](security.md)',
        ),
    })
    .prefault({}),
  mcp: z
    .strictObject({
      sessionIdleSeconds: z
        .number()
        .int()
        .positive()
        .max(86_400)
        .default(300)
        .describe(
          'an MCP session (its upstream connection or process, and its streams) with no agent request for this long is closed; a request still waiting for its answer keeps it',
        ),
      maxSessions: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('bound on open MCP sessions on a node; past it, `initialize` is refused (`ERR_NOT_READY`)'),
      requestTimeoutSeconds: z
        .number()
        .int()
        .positive()
        .max(3600)
        .default(60)
        .describe(
          'an upstream request with neither an answer nor a progress notification for this long is answered with a timeout error (`-32001`, `ERR_UPSTREAM_TIMEOUT`) and cancelled upstream',
        ),
      /** Bound on open sessions of one task: each may hold an upstream process (stdio), so one agent cannot fork-bomb the host. */
      maxSessionsPerTask: z
        .number()
        .int()
        .positive()
        .max(1000)
        .default(16)
        .describe(
          'bound on open MCP sessions of one task, sessionless ones included (each stdio session is a process); past it, `initialize` is refused (`429 ERR_MCP_SESSION_LIMIT`)',
        ),
      maxSessionsPerAgent: z
        .number()
        .int()
        .positive()
        .max(100_000)
        .default(64)
        .describe('bound on open MCP sessions of one agent, all its tasks and sessionless ones included; past it, as `maxSessionsPerTask`'),
      maxUpstreamMessageBytes: z
        .number()
        .int()
        .positive()
        .default(16 * 1024 * 1024)
        .describe('largest JSON-RPC message accepted from an upstream'),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      role: z
        .enum(['both', 'control', 'gateway'])
        .default('both')
        .describe(
          '`control` (token endpoint, admin API, revocation feed, Shared Signals), `gateway` (`/r/…` and `/mcp/…`) or `both`; `control` and `gateway` need PostgreSQL — see [cluster.md](cluster.md)',
        ),
      nodeId: z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,100}$/)
        .optional()
        .meta({
          description: 'names the node in logs, `/readyz` and `pg_stat_activity` (`writ-listener:{nodeId}`)',
          defaultText: 'host name and pid',
        }),
      heartbeatIntervalMs: z
        .number()
        .int()
        .min(50)
        .max(60_000)
        .default(500)
        .describe('how often a node asks the revocation log, on its listening connection, whether it missed an entry'),
      reportIntervalMs: z
        .number()
        .int()
        .min(1000)
        .max(300_000)
        .default(5000)
        .describe(
          "how often a node writes its revocation freshness to the store, where the console's overview shows every node's (three missed reports: shown as silent)",
        ),
      maxStalenessMs: z
        .number()
        .int()
        .min(100)
        .max(600_000)
        .default(5_000)
        .describe(
          'a node that cannot confirm it holds the whole revocation log within this bound refuses every call (`503 ERR_NOT_READY`) and `/readyz` says why',
        ),
    })
    .prefault({}),
  limits: z
    .strictObject({
      authFailures: z
        .number()
        .int()
        .min(1)
        .default(20)
        .describe(
          'failed admin-token or Shared Signals receiver authentications from one address within `authWindowSeconds` before that address is locked out',
        ),
      authWindowSeconds: z
        .number()
        .int()
        .min(1)
        .default(60)
        .describe('the window `authFailures` counts in; also how often such failures are audited per address'),
      authLockoutSeconds: z
        .number()
        .int()
        .min(1)
        .default(300)
        .describe('how long a locked-out address is refused (`429` with `Retry-After`), whatever credential it presents'),
      upstreamConnections: z
        .number()
        .int()
        .min(1)
        .default(128)
        .describe(
          "exchanges held open with one resource's upstream at once (HTTP calls in flight, MCP requests awaiting their answer, MCP streams agents listen on); past it, `503 ERR_UPSTREAM_SATURATED` at once",
        ),
      upstreamConnectionsPerAgent: z
        .number()
        .int()
        .min(1)
        .default(32)
        .describe('of those, the most one agent may hold, all its tasks together; past it, `429 ERR_UPSTREAM_SHARE_EXCEEDED` at once'),
      upstreamConnectionsPerTask: z
        .number()
        .int()
        .min(1)
        .default(16)
        .describe('of those, the most one task may hold; past it, `429 ERR_UPSTREAM_SHARE_EXCEEDED` at once'),
    })
    .refine(
      (l) => l.upstreamConnectionsPerTask <= l.upstreamConnectionsPerAgent && l.upstreamConnectionsPerAgent <= l.upstreamConnections,
      {
        message: 'upstream shares must satisfy upstreamConnectionsPerTask ≤ upstreamConnectionsPerAgent ≤ upstreamConnections',
        path: ['upstreamConnectionsPerTask'],
      },
    )
    .prefault({}),
  egress: z
    .strictObject({
      allow: z
        .array(egressEntry)
        .max(1000)
        .default([])
        .describe(
          "where Writ may connect on someone's behalf although the default refuses it (loopback, link-local, private, shared and reserved ranges, cloud metadata): CIDR ranges (`10.20.0.0/16`), addresses, or host names; Writ's own listeners are refused whatever is allowed — see [security.md](security.md#egress)",
        ),
    })
    .prefault({}),
  tracing: tracingConfig,
  audit: auditConfig,
  agents: agentsConfig,
  approvals: approvalsConfig,
  console: consoleConfig,
  budgets: budgetsConfig,
  ssf: z
    .strictObject({
      pollMaxWaitSeconds: z
        .number()
        .int()
        .min(0)
        .max(300)
        .default(30)
        .describe('longest an RFC 8936 long poll (`returnImmediately: false`) waits for a SET ([shared-signals.md](shared-signals.md))'),
      pushTimeoutMs: z
        .number()
        .int()
        .positive()
        .max(120_000)
        .default(10_000)
        .describe('one RFC 8935 push attempt gives up after this long, and is retried'),
      pushRetryInitialMs: z
        .number()
        .int()
        .positive()
        .max(300_000)
        .default(1_000)
        .describe('first retry delay of a failed push; doubles per attempt, up to five minutes'),
    })
    .prefault({}),
  authorization: authorizationConfig,
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe('pino level; logs are JSON on stdout'),
    })
    .prefault({}),
});

export type WritConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
