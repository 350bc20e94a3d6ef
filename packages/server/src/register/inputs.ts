/**
 * Input schemas of the register (agents, identity providers, resources, grants): the admin API and the CLI
 * validate with these at the edge; inside, types are trusted.
 */
import { z } from 'zod';
import { registerId } from './ids.js';
import { injectionRuleSchema } from '../vault/index.js';

const publicJwk = z
  .looseObject({
    kty: z.enum(['EC', 'OKP', 'RSA']),
    kid: z.string().min(1).max(200).optional(),
    alg: z.string().optional(),
    use: z.literal('sig').optional(),
  })
  .refine((k) => !['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((m) => m in k), 'a JWKS must hold public keys only');

export const jwksInput = z.strictObject({ keys: z.array(publicJwk).min(1).max(10) });

export const agentInput = z.strictObject({
  id: registerId,
  name: z.string().min(1).max(200),
  owner: z.string().min(1).max(200),
  kind: z.enum(['agent', 'service_account', 'workload']).default('agent'),
  jwks: jwksInput,
  description: z.string().max(2000).default(''),
});
export type AgentInput = z.input<typeof agentInput>;

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
  })
  .refine((p) => p.discovery || p.jwksUri !== undefined, 'give jwksUri, or set discovery: true');
export type IdentityProviderInput = z.input<typeof identityProviderInput>;

/** The vault's injection-rule schema, re-exported: one definition of how a secret may be injected. */
export const injectionInput = injectionRuleSchema;

export const resourceInput = z
  .strictObject({
    id: registerId,
    kind: z.literal('http').default('http'),
    baseUrl: z.url({ protocol: /^https?$/ }).refine((u) => !u.includes('?') && !u.includes('#'), 'no query or fragment'),
    secretId: registerId.optional(),
    inject: injectionInput.optional(),
    description: z.string().max(2000).default(''),
  })
  .refine((r) => (r.inject === undefined) === (r.secretId === undefined), 'secretId and inject go together');
export type ResourceInput = z.input<typeof resourceInput>;

export const grantInput = z.strictObject({
  id: registerId,
  description: z.string().max(2000).default(''),
  policy: z.string().min(1).max(100_000),
  enabled: z.boolean().default(true),
});
export type GrantInput = z.input<typeof grantInput>;

export const secretInput = z.strictObject({
  id: registerId,
  value: z.string().min(1).max(16_384),
  description: z.string().max(2000).default(''),
});
