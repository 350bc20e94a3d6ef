/**
 * Input schemas of the register (agents, identity providers, resources, grants): the admin API and the CLI
 * validate with these at the edge; inside, types are trusted.
 */
import { importJWK } from 'jose';
import { z } from 'zod';
import { AdminError } from '../errors/index.js';
import { outboundUrl } from '../http/index.js';
import { registerId } from '../ids/index.js';
import { injectionRuleSchema } from '../vault/index.js';
import { HTTP_METHODS, ID_JAG, TOKEN_TYPE, type AuthorizationDetail, type HttpAuthorizationDetail } from '@writ/protocol';
import { canonicalMcpDetail, canonicalPathPattern } from '@writ/verify/internal';
import { compileSubjectPattern } from '../identity/index.js';

const publicJwk = z
  .looseObject({
    kty: z.enum(['EC', 'OKP', 'RSA']),
    kid: z.string().min(1).max(200).optional(),
    alg: z.string().optional(),
    use: z.literal('sig').optional(),
  })
  .refine((k) => !['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((m) => m in k), 'a JWKS must hold public keys only');

export const jwksInput = z.strictObject({ keys: z.array(publicJwk).min(1).max(10) });

const subjectPattern = z.string().superRefine((p, ctx) => {
  try {
    compileSubjectPattern(p);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/** Which workload tokens stand for an agent: a trusted workload issuer (by id) and a pattern for the token's `sub`. */
export const workloadBindingInput = z.strictObject({ issuer: registerId, subject: subjectPattern });

/**
 * A point in time as the admin API takes it: an RFC 3339 date-time (`2027-03-01T00:00:00Z`), a date (`2027-03-01`,
 * midnight UTC), or epoch milliseconds. Stored and answered as epoch milliseconds, like every other time.
 */
export const instantInput = z
  .union([z.number().int().positive().max(253_402_300_799_000), z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v)));

/** Who answers for an agent: a team, or a person by their Writ user id (`<provider id>:<subject>`, see offboarding). */
const ownerInput = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]+$/u, 'no control characters');

export const agentInput = z
  .strictObject({
    id: registerId,
    name: z.string().min(1).max(200),
    owner: ownerInput,
    expiresAt: instantInput.optional(),
    reviewBy: instantInput.optional(),
    kind: z.enum(['agent', 'service_account', 'workload']).default('agent'),
    /** Public keys for `private_key_jwt`; may be omitted when the agent authenticates by workload identity. */
    jwks: z.strictObject({ keys: z.array(publicJwk).max(10) }).default({ keys: [] }),
    workload: z.array(workloadBindingInput).max(10).default([]),
    description: z.string().max(2000).default(''),
  })
  .refine((a) => a.jwks.keys.length > 0 || a.workload.length > 0, 'an agent needs a jwks (private_key_jwt) or a workload binding, or both');
export type AgentInput = z.input<typeof agentInput>;

/** What of an agent can change after it is registered (its keys and bindings are replaced by registering anew). */
export const agentUpdateInput = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    owner: ownerInput.optional(),
    description: z.string().max(2000).optional(),
    /** null removes the end date or the review date. */
    expiresAt: instantInput.nullable().optional(),
    reviewBy: instantInput.nullable().optional(),
  })
  .refine((u) => Object.keys(u).length > 0, 'nothing to change');
export type AgentUpdateInput = z.input<typeof agentUpdateInput>;

export const agentStatusInput = z.strictObject({
  status: z.enum(['active', 'suspended', 'offboarded']),
  reason: z.string().max(500).optional(),
});

export const identityProviderInput = z
  .strictObject({
    id: registerId,
    issuer: z.url({ protocol: /^https?$/ }),
    jwksUri: z.url({ protocol: /^https?$/ }).optional(),
    discovery: z.boolean().default(false),
    audience: z.string().min(1).max(500),
    /**
     * `subject_token_type`s this provider's tokens may arrive as (RFC 8693 §3); default: all three JWT types. The ID-JAG
     * type (`urn:ietf:params:oauth:token-type:id-jag`) trusts its assertions at the token endpoint's jwt-bearer grant.
     */
    tokenTypes: z
      .array(z.enum([TOKEN_TYPE.idToken, TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt, ID_JAG.tokenType]))
      .min(1)
      .max(4)
      .optional(),
  })
  .refine((p) => p.discovery || p.jwksUri !== undefined, 'give jwksUri, or set discovery: true');
export type IdentityProviderInput = z.input<typeof identityProviderInput>;

/**
 * A workload-identity issuer agents may authenticate with (`actor_token`): a Kubernetes cluster's service-account
 * issuer, a SPIFFE trust domain's JWT-SVID issuer, or any OIDC issuer of workload tokens (a CI system). Keys come
 * from discovery, a JWKS URL, or a static JWKS (e.g. the JWT authorities of a SPIFFE trust bundle).
 */
export const workloadIssuerInput = z
  .strictObject({
    id: registerId,
    kind: z.enum(['kubernetes', 'spiffe', 'oidc']),
    issuer: z.url({ protocol: /^https?$/ }),
    jwksUri: z.url({ protocol: /^https?$/ }).optional(),
    discovery: z.boolean().default(false),
    jwks: z.strictObject({ keys: z.array(publicJwk).min(1).max(20) }).optional(),
    /** What the token's `aud` must contain; Writ's issuer URL is the usual choice. */
    audience: z.string().min(1).max(500),
  })
  .refine(
    (p) => [p.discovery, p.jwksUri !== undefined, p.jwks !== undefined].filter(Boolean).length === 1,
    'give exactly one of jwksUri, jwks, or discovery: true',
  );
export type WorkloadIssuerInput = z.input<typeof workloadIssuerInput>;

/** The vault's injection-rule schema, re-exported: one definition of how a secret may be injected. */
export const injectionInput = injectionRuleSchema;

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const MAX_SCOPES = 32;
const MAX_SCOPE_DETAILS = 32;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const scopePath = z
  .string()
  .min(1)
  .max(1024)
  .transform((p, ctx) => {
    try {
      return canonicalPathPattern(p);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} is not a valid path pattern` });
      return z.NEVER;
    }
  });

const httpScopeDetail = z
  .strictObject({
    type: z.literal('http'),
    actions: z.array(z.enum(HTTP_METHODS)).min(1).max(HTTP_METHODS.length),
    paths: z.array(scopePath).min(1).max(64),
  })
  .transform((d): HttpAuthorizationDetail => ({ type: 'http', actions: [...new Set(d.actions)], paths: [...new Set(d.paths)] }));

/** A detail of a scope: `http` or `mcp` (@writ/protocol), without `locations` — the resource is its location. */
const scopeDetail = z.unknown().transform((v, ctx): AuthorizationDetail => {
  const type = isPlainObject(v) ? v['type'] : undefined;
  if (isPlainObject(v) && 'locations' in v) ctx.addIssue({ code: 'custom', message: 'a scope detail has no locations' });
  else if (type === 'http') {
    const r = httpScopeDetail.safeParse(v);
    if (r.success) return r.data;
    for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
  } else if (type === 'mcp') {
    try {
      return canonicalMcpDetail(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  } else ctx.addIssue({ code: 'custom', message: `unsupported authorization detail type ${JSON.stringify(type ?? null)}` });
  return z.NEVER;
});

// Not z.record: it drops a `__proto__` member silently; scope names are read as own members only.
const scopesInput = z
  .custom<Record<string, unknown[]>>(isPlainObject, 'scopes must be an object of scope name → authorization details')
  .transform((v, ctx) => {
    const out: Record<string, AuthorizationDetail[]> = {};
    const names = Object.keys(v);
    if (names.length > MAX_SCOPES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_SCOPES} scopes` });
    for (const name of names) {
      if (!SCOPE_TOKEN.test(name) || name === '__proto__') {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(name)} is not a scope name (RFC 6749 §3.3)`, path: [name] });
        continue;
      }
      const r = z.array(scopeDetail).min(1).max(MAX_SCOPE_DETAILS).safeParse(v[name]);
      if (r.success) out[name] = r.data;
      else for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: [name, ...i.path] });
    }
    return out;
  });

/**
 * An upstream: an HTTP API (`kind: 'http'`, `baseUrl` its base URL) or an MCP server (`kind: 'mcp'`, `baseUrl` its
 * Streamable HTTP endpoint). `scopes` names bundles of authorization details of the resource's own kind that a task
 * may ask for with the OAuth `scope` parameter instead of (or besides) `authorization_details`.
 */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name');
const processFields = {
  /** The program, run directly (never through a shell). */
  command: z.string().min(1).max(1024),
  args: z.array(z.string().max(4096)).max(64).default([]),
  /** The child's whole environment besides PATH and HOME: Writ's own (its KEK, admin tokens) never passes through. */
  env: z.record(envName, z.string().max(8192)).default({}),
  cwd: z.string().min(1).max(1024).optional(),
};
/** A composite's upstream names prefix their tool and prompt names (`github.create_issue`): MCP tool-name characters. */
const upstreamName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ and -, starting with a letter');

export const mcpUpstreamInput = z.discriminatedUnion('transport', [
  z.strictObject({ name: upstreamName.default('main'), transport: z.literal('http'), url: outboundUrl }),
  z.strictObject({ name: upstreamName.default('main'), transport: z.literal('stdio'), ...processFields }),
  /**
   * A Node.js Streamable HTTP server that Writ starts itself (`node <args>`), forced onto a loopback port it picks
   * (passed as `portEnv`, default PORT) whatever interface the server asks for.
   */
  z.strictObject({
    name: upstreamName.default('main'),
    transport: z.literal('http-process'),
    args: z.array(z.string().max(4096)).min(1).max(64),
    env: processFields.env,
    cwd: processFields.cwd,
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.-]{0,200}$/)
      .default('/mcp'),
    portEnv: envName.default('PORT'),
  }),
]);

export const mcpConfigInput = z
  .strictObject({
    /** One upstream, or several: a composite that serves all their tools as one server, names prefixed. */
    upstreams: z.array(mcpUpstreamInput).min(1).max(16),
    /**
     * MCP hosts that cannot sign DPoP proofs may present bearer task tokens here (MCP authorization spec); such
     * tokens live at most `maxLifetimeSeconds`, and every call with one is marked in the audit.
     */
    bearer: z
      .strictObject({ allowed: z.boolean().default(false), maxLifetimeSeconds: z.int().min(30).max(900).default(300) })
      .default({ allowed: false, maxLifetimeSeconds: 300 }),
  })
  .refine((c) => new Set(c.upstreams.map((u) => u.name)).size === c.upstreams.length, 'upstream names must be unique');
export type McpConfigInput = z.input<typeof mcpConfigInput>;

/**
 * An upstream: an HTTP API (`kind: 'http'`, `baseUrl` its base URL) or an MCP server (`kind: 'mcp'`: `baseUrl` its
 * Streamable HTTP endpoint, or `mcp.upstreams` for stdio servers, servers Writ starts, and composites). `scopes`
 * names bundles of authorization details of the resource's own kind that a task may ask for with the OAuth `scope`
 * parameter instead of (or besides) `authorization_details`.
 */
export const resourceInput = z
  .strictObject({
    id: registerId,
    kind: z.enum(['http', 'mcp']).default('http'),
    baseUrl: outboundUrl.refine((u) => !u.includes('?'), 'no query').optional(),
    mcp: mcpConfigInput.optional(),
    secretId: registerId.optional(),
    inject: injectionInput.optional(),
    scopes: scopesInput.optional(),
    description: z.string().max(2000).default(''),
  })
  .refine((r) => (r.inject === undefined) === (r.secretId === undefined), 'secretId and inject go together')
  .refine((r) => r.kind === 'mcp' || (r.baseUrl !== undefined && r.mcp === undefined), {
    message: 'an http resource has a baseUrl and no mcp section',
  })
  .refine((r) => r.kind === 'http' || (r.baseUrl === undefined) !== (r.mcp === undefined), {
    message: 'an mcp resource has either a baseUrl (its Streamable HTTP endpoint) or an mcp section',
  })
  .refine((r) => Object.values(r.scopes ?? {}).every((ds) => ds.every((d) => d.type === r.kind)), {
    message: 'every scope detail must be of the resource kind',
    path: ['scopes'],
  });
export type ResourceInput = z.input<typeof resourceInput>;

export const grantInput = z.strictObject({
  id: registerId,
  description: z.string().max(2000).default(''),
  policy: z.string().min(1).max(100_000),
  enabled: z.boolean().default(true),
  /** `observe`: deployed beside the enforced set, never changing an answer (docs/governance.md#observe-mode). */
  mode: z.enum(['enforce', 'observe']).default('enforce'),
});
export type GrantInput = z.input<typeof grantInput>;

export const grantModeInput = z.strictObject({ mode: z.enum(['enforce', 'observe']) });

/** The input as its schema reads it, or ERR_ADMIN_INVALID_REQUEST naming every problem by its path. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const details = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(body)'}: ${i.message}`);
    throw new AdminError('ERR_ADMIN_INVALID_REQUEST', details.join('; '), details);
  }
  return r.data;
}

/** A JWKS key must import as the public key it claims to be: refused at registration, not at first use. */
export async function requireUsableKey(key: { kty: string; kid?: string | undefined; alg?: string | undefined }): Promise<void> {
  try {
    await importJWK(key as Parameters<typeof importJWK>[0], typeof key.alg === 'string' ? key.alg : defaultAlg(key.kty));
  } catch (err) {
    throw new AdminError('ERR_ADMIN_INVALID_REQUEST', `jwks: key ${key.kid ?? ''} is not a usable public key: ${(err as Error).message}`);
  }
}

function defaultAlg(kty: unknown): string {
  return kty === 'OKP' ? 'EdDSA' : kty === 'RSA' ? 'RS256' : 'ES256';
}
