/**
 * The one configuration schema: it gives the types, the validation (unknown keys rejected, every value checked) and
 * the defaults. `docs/reference/config.md` documents it; a test keeps the two in step.
 */
import { z } from 'zod';
import { DEFAULT_PORT, TOKEN_SIGNING_ALGS } from '@writ/protocol';

const port = z.number().int().min(0).max(65535);
const url = z.url({ protocol: /^https?$/ });

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      /** Interface to listen on. `writ dev` is loopback only. */
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(DEFAULT_PORT),
      /** The externally visible base URL: Writ's issuer identifier and the base of every resource URI. Defaults to http://{host}:{port}. */
      publicUrl: url.optional(),
      /** Largest request body the gateway forwards, in bytes. */
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .default(10 * 1024 * 1024),
      /** Upstream response timeout in milliseconds. */
      upstreamTimeoutMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** PostgreSQL connection URL; when absent Writ uses the embedded SQLite file. */
      databaseUrl: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
        .optional(),
      /** SQLite database file (embedded default). */
      sqlitePath: z.string().min(1).default('.writ/writ.db'),
    })
    .prefault({}),
  vault: z
    .strictObject({
      /** Key-encryption key: 32 bytes, base64. Prefer the WRIT_KEK environment variable to keep it out of files. */
      kek: z.string().optional(),
      /** Identifier recorded with every wrapped data key, so keys can be rotated. */
      kekId: z.string().min(1).default('kek-1'),
    })
    .prefault({}),
  tokens: z
    .strictObject({
      /** Default task token lifetime in seconds. */
      defaultLifetimeSeconds: z.number().int().positive().max(86_400).default(600),
      /** Upper bound for any requested task lifetime in seconds. */
      maxLifetimeSeconds: z.number().int().positive().max(86_400).default(3600),
      signingAlg: z.enum(TOKEN_SIGNING_ALGS).default('ES256'),
      /** Rotate the token-signing key when it is older than this many hours (0: only on command). */
      signingKeyRotationHours: z.number().min(0).max(8760).default(0),
      /** Accepted clock skew for `exp`/`nbf`/`iat`, seconds. */
      clockSkewSeconds: z.number().int().min(0).max(300).default(5),
      /** How many sub-agent levels a task tree may have below its root task (0: no delegation). */
      maxDelegationDepth: z.number().int().min(0).max(16).default(3),
    })
    .prefault({}),
  dpop: z
    .strictObject({
      /** How long after its `iat` a DPoP proof is accepted, seconds (RFC 9449 §11.1). */
      proofMaxAgeSeconds: z.number().int().positive().max(600).default(60),
      /** Require server-issued nonces in every proof (RFC 9449 §8/§9): stronger freshness, one extra round trip. */
      requireNonce: z.boolean().default(false),
      /** How long a nonce stays fresh: its window and the next, seconds each. */
      nonceWindowSeconds: z.number().int().min(5).max(3600).default(60),
      /** Bound on remembered proof `jti`s; past it, new proofs are refused rather than old ones forgotten. */
      replayCacheSize: z.number().int().positive().default(1_000_000),
      /**
       * Where proof `jti`s are remembered: `memory` (this node only), `database` (shared by every node on the same
       * database; a round trip per new proof) or `auto` (database on PostgreSQL, memory on the embedded SQLite).
       */
      replayStore: z.enum(['auto', 'memory', 'database']).default('auto'),
    })
    .prefault({}),
  mcp: z
    .strictObject({
      /** An MCP session (and its upstream connection) unused this long is closed, seconds. */
      sessionIdleSeconds: z.number().int().positive().max(86_400).default(1800),
      /** Bound on open MCP sessions on this node; past it, new sessions are refused. */
      maxSessions: z.number().int().positive().default(10_000),
      /** An upstream request with neither an answer nor a progress notification for this long is answered with a timeout. */
      requestTimeoutSeconds: z.number().int().positive().max(3600).default(60),
      /** Bound on open sessions of one task: each may hold an upstream process (stdio), so one agent cannot fork-bomb the host. */
      maxSessionsPerTask: z.number().int().positive().max(1000).default(16),
      /** Largest single JSON-RPC message accepted from an upstream, bytes. */
      maxUpstreamMessageBytes: z
        .number()
        .int()
        .positive()
        .default(16 * 1024 * 1024),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      /**
       * What this node serves: `control` (token endpoint, admin API, revocation feed, Shared Signals), `gateway` (the
       * HTTP and MCP gateways), or `both`. Several nodes share one PostgreSQL; the embedded SQLite allows only `both`.
       */
      role: z.enum(['both', 'control', 'gateway']).default('both'),
      /** Names this node in logs, `/readyz` and `pg_stat_activity`; defaults to host name and process id. */
      nodeId: z
        .string()
        .regex(/^[A-Za-z0-9._:-]{1,100}$/)
        .optional(),
      /** How often a node asks the revocation log whether it missed anything, on its listening connection, ms. */
      heartbeatIntervalMs: z.number().int().min(50).max(60_000).default(500),
      /** A node that cannot confirm it holds the whole revocation log within this bound refuses every call, ms. */
      maxStalenessMs: z.number().int().min(100).max(600_000).default(5_000),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Longest time an audit event waits in memory before it is written, milliseconds. */
      flushIntervalMs: z.number().int().positive().max(10_000).default(20),
      /** Bound on buffered events; past it, enforcement points refuse calls (fail closed). */
      maxBufferedEvents: z.number().int().positive().default(100_000),
    })
    .prefault({}),
  ssf: z
    .strictObject({
      /** Longest a poll request with `returnImmediately: false` waits for a SET (RFC 8936 long polling), seconds. */
      pollMaxWaitSeconds: z.number().int().min(0).max(300).default(30),
      /** One push delivery (RFC 8935) gives up after this long and is retried later, milliseconds. */
      pushTimeoutMs: z.number().int().positive().max(120_000).default(10_000),
      /** First retry delay of a failed push; it doubles per attempt up to five minutes, milliseconds. */
      pushRetryInitialMs: z.number().int().positive().max(300_000).default(1_000),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type WritConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
