/**
 * The register's objects as the rest of Writ sees them (agents, resources, identity providers, workload issuers,
 * grants), how each is read from its stored row, and the row a validated input makes.
 */
import { TOKEN_TYPE, type AuthorizationDetail } from '@writ/protocol';
import type { z } from 'zod';
import type { Insertable } from 'kysely';
import type { AgentRow, Database, GrantRow, IdentityProviderRow, ResourceRow, WorkloadIssuerRow } from '../storage/index.js';
import type {
  agentInput,
  grantInput,
  identityProviderInput,
  injectionInput,
  mcpConfigInput,
  resourceInput,
  workloadIssuerInput,
} from './inputs.js';

export type InjectionRule = z.output<typeof injectionInput>;

export interface Agent {
  id: string;
  name: string;
  owner: string;
  kind: AgentRow['kind'];
  status: AgentRow['status'];
  /** Public keys for `private_key_jwt`; empty when the agent authenticates by workload identity only. */
  jwks: { keys: Record<string, unknown>[] };
  /** Workload tokens that stand for this agent: issuer id and `sub` pattern. */
  workload: WorkloadBinding[];
  description: string;
  createdAt: number;
  updatedAt: number;
  /** The registration's end (epoch ms): from then on the agent is refused (`ERR_AGENT_EXPIRED`); null: none. */
  expiresAt: number | null;
  /** When the owner should confirm the agent is still needed (epoch ms); null: no review planned. */
  reviewBy: number | null;
  /** The last token obtained or call made, as of the last batch written (epoch ms); null: never. */
  lastUsedAt: number | null;
  /** When the owner's user revocation flagged or suspended the agent (epoch ms); null: the owner is not offboarded. */
  ownerOffboardedAt: number | null;
}

export interface WorkloadBinding {
  issuer: string;
  subject: string;
}

export interface Resource {
  id: string;
  /** `http`: an HTTP API at `baseUrl`; `mcp`: an MCP server (or several), see `mcp`. */
  kind: 'http' | 'mcp';
  /** The HTTP API's base URL; for an MCP resource its Streamable HTTP endpoint when it has one upstream there, else ''. */
  baseUrl: string;
  /** MCP resources: the upstreams and bearer acceptance (always present for `kind: 'mcp'`); null for HTTP APIs. */
  mcp: McpResourceConfig | null;
  secretId: string | null;
  inject: InjectionRule | null;
  /** Scope name (RFC 6749 §3.3) → the authorization details it stands for, without `locations`; `{}` when none. */
  scopes: Record<string, AuthorizationDetail[]>;
  description: string;
  createdAt: number;
  updatedAt: number;
}

export type McpResourceConfig = z.output<typeof mcpConfigInput>;
export type McpUpstreamConfig = McpResourceConfig['upstreams'][number];

export interface IdentityProvider {
  id: string;
  issuer: string;
  jwksUri: string | null;
  discovery: boolean;
  audience: string;
  /** Accepted `subject_token_type`s. */
  tokenTypes: string[];
  createdAt: number;
}

export interface WorkloadIssuer {
  id: string;
  kind: WorkloadIssuerRow['kind'];
  issuer: string;
  jwksUri: string | null;
  discovery: boolean;
  jwks: { keys: Record<string, unknown>[] } | null;
  audience: string;
  createdAt: number;
}

export interface Grant {
  id: string;
  description: string;
  policy: string;
  enabled: boolean;
  /** `enforce`: decides calls; `observe`: evaluated beside the enforced set, every difference recorded, nothing changed. */
  mode: 'enforce' | 'observe';
  createdAt: number;
  updatedAt: number;
}

export type RegisterChange = {
  kind: 'agent' | 'resource' | 'grant' | 'identity_provider' | 'workload_issuer' | 'secret';
  id: string;
};

export function agentFromRow(r: AgentRow): Agent {
  return {
    id: r.id,
    name: r.name,
    owner: r.owner,
    kind: r.kind,
    status: r.status,
    jwks: JSON.parse(r.jwks) as Agent['jwks'],
    workload: JSON.parse(r.workload) as WorkloadBinding[],
    description: r.description,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
    reviewBy: r.review_by,
    lastUsedAt: r.last_used_at,
    ownerOffboardedAt: r.owner_offboarded_at,
  };
}

export function resourceFromRow(r: ResourceRow): Resource {
  return {
    id: r.id,
    kind: r.kind,
    baseUrl: r.base_url,
    mcp: mcpConfigOf(r),
    secretId: r.secret_id,
    inject: r.inject === null ? null : (JSON.parse(r.inject) as InjectionRule),
    scopes: r.scopes === null ? {} : (JSON.parse(r.scopes) as Resource['scopes']),
    description: r.description,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** An MCP resource registered with a `baseUrl` only is one Streamable HTTP upstream there, DPoP only. */
function mcpConfigOf(r: ResourceRow): McpResourceConfig | null {
  if (r.kind !== 'mcp') return null;
  if (r.mcp !== null) return JSON.parse(r.mcp) as McpResourceConfig;
  return { upstreams: [{ name: 'main', transport: 'http', url: r.base_url }], bearer: { allowed: false, maxLifetimeSeconds: 300 } };
}

/** Providers registered before token types were configurable accept every JWT type, as they did then. */
const ALL_USER_TOKEN_TYPES = [TOKEN_TYPE.idToken, TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt];

export function idpFromRow(r: IdentityProviderRow): IdentityProvider {
  return {
    id: r.id,
    issuer: r.issuer,
    jwksUri: r.jwks_uri,
    discovery: r.discovery === 1,
    audience: r.audience,
    tokenTypes: r.token_types === null ? [...ALL_USER_TOKEN_TYPES] : (JSON.parse(r.token_types) as string[]),
    createdAt: r.created_at,
  };
}

export function workloadIssuerFromRow(r: WorkloadIssuerRow): WorkloadIssuer {
  return {
    id: r.id,
    kind: r.kind,
    issuer: r.issuer,
    jwksUri: r.jwks_uri,
    discovery: r.discovery === 1,
    jwks: r.jwks === null ? null : (JSON.parse(r.jwks) as WorkloadIssuer['jwks']),
    audience: r.audience,
    createdAt: r.created_at,
  };
}

export function grantFromRow(r: GrantRow): Grant {
  return {
    id: r.id,
    description: r.description,
    policy: r.policy,
    enabled: r.enabled === 1,
    mode: r.mode,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** How each register object is written: the rows its input makes (the reverse of the `…FromRow` readers). */
export function agentRow(a: z.output<typeof agentInput>, now: number): Insertable<Database['agents']> {
  return {
    id: a.id,
    name: a.name,
    owner: a.owner,
    kind: a.kind,
    status: 'active',
    jwks: JSON.stringify(a.jwks),
    workload: JSON.stringify(a.workload),
    description: a.description,
    created_at: now,
    updated_at: now,
    expires_at: a.expiresAt ?? null,
    review_by: a.reviewBy ?? null,
  };
}

export function idpRow(p: z.output<typeof identityProviderInput>, now: number): Insertable<Database['identity_providers']> {
  return {
    id: p.id,
    issuer: p.issuer,
    jwks_uri: p.jwksUri ?? null,
    discovery: p.discovery ? 1 : 0,
    audience: p.audience,
    token_types: p.tokenTypes === undefined ? null : JSON.stringify([...new Set(p.tokenTypes)]),
    created_at: now,
    updated_at: now,
  };
}

export function workloadIssuerRow(p: z.output<typeof workloadIssuerInput>, now: number): Insertable<Database['workload_issuers']> {
  return {
    id: p.id,
    kind: p.kind,
    issuer: p.issuer,
    jwks_uri: p.jwksUri ?? null,
    discovery: p.discovery ? 1 : 0,
    jwks: p.jwks === undefined ? null : JSON.stringify(p.jwks),
    audience: p.audience,
    created_at: now,
    updated_at: now,
  };
}

export function resourceRow(r: z.output<typeof resourceInput>, now: number): Insertable<Database['resources']> {
  return {
    id: r.id,
    kind: r.kind,
    base_url: r.baseUrl?.replace(/\/+$/, '') ?? '',
    mcp: r.mcp === undefined ? null : JSON.stringify(r.mcp),
    secret_id: r.secretId ?? null,
    inject: r.inject === undefined ? null : JSON.stringify(r.inject),
    scopes: r.scopes === undefined || Object.keys(r.scopes).length === 0 ? null : JSON.stringify(r.scopes),
    description: r.description,
    created_at: now,
    updated_at: now,
  };
}

export function grantRow(g: z.output<typeof grantInput>, now: number): Insertable<Database['grants']> {
  return {
    id: g.id,
    description: g.description,
    policy: g.policy,
    enabled: g.enabled ? 1 : 0,
    mode: g.mode,
    created_at: now,
    updated_at: now,
  };
}

/** An agent for a stock OAuth client that registered itself: no keys, no workload identity. */
export interface ClientAgent {
  id: string;
  name: string;
  owner: string;
  status: 'active' | 'pending';
  description: string;
}

export function clientAgentRow(a: ClientAgent, now: number): Insertable<Database['agents']> {
  return {
    id: a.id,
    name: a.name.slice(0, 200),
    owner: a.owner,
    kind: 'oauth_client',
    status: a.status,
    jwks: JSON.stringify({ keys: [] }),
    workload: '[]',
    description: a.description.slice(0, 2000),
    created_at: now,
    updated_at: now,
  };
}
