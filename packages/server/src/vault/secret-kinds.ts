/**
 * The kinds of secret the vault holds, as the admin API accepts them. Each splits into what is sealed (a value, a
 * client secret, a private key) and the settings that are not secret (where to mint, which client, which scope),
 * which `describeSecret` shows. Every kind is write-only in the same way: no route returns what is sealed.
 */
import { z } from 'zod';
import { outboundUrl } from '../http/index.js';

export const SECRET_KINDS = ['static', 'oauth_client_credentials', 'token_exchange', 'user_oauth'] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

const description = z.string().max(2000).default('');

/** RFC 6749 §3.3 scope: space-separated scope tokens (printable ASCII without `"` and `\`). */
const scope = z
  .string()
  .max(1000)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'space-separated scope tokens (RFC 6749 §3.3)');

/** A private key for `private_key_jwt` (RFC 7523 §2.2): an EC P-256 or RSA JWK with its private part. */
const privateJwk = z.looseObject({ kty: z.enum(['EC', 'RSA']), d: z.string().min(1), kid: z.string().max(200).optional() });

export const staticSecretInput = z.strictObject({
  kind: z.literal('static').default('static'),
  value: z.string().min(1).max(16_384),
  description,
});

/** RFC 7617 Basic credentials kept as one secret of two parts, injected by a `basic` rule that names no username. */
export const staticBasicInput = z.strictObject({
  kind: z.literal('static').default('static'),
  username: z
    .string()
    .min(1)
    .max(200)
    .refine((u) => !u.includes(':') && ![...u].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), {
      message: 'no ":" (RFC 7617) or control characters',
    }),
  password: z.string().min(1).max(16_384),
  description,
});

/** What Writ needs to be an OAuth client of an upstream's authorization server (both minted kinds). */
const oauthClientFields = {
  description,
  /** The upstream authorization server's token endpoint (RFC 6749 §3.2). */
  tokenEndpoint: outboundUrl,
  clientId: z.string().min(1).max(500),
  /** RFC 6749 §2.3.1 (`client_secret_basic`, `client_secret_post`) or RFC 7523 (`private_key_jwt`). */
  authMethod: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).default('client_secret_basic'),
  clientSecret: z.string().min(1).max(4096).optional(),
  privateKeyJwk: privateJwk.optional(),
  /** Asked for when the resource's injection rule names none. */
  scope: scope.optional(),
  /** RFC 8707 `resource`, and the `audience` some servers read instead: both sent when set. */
  resource: z.url().max(2000).optional(),
  audience: z.string().max(1000).optional(),
  /** A token is replaced this long before it expires (and at half its lifetime, for short-lived ones). */
  refreshBeforeSeconds: z.number().int().min(0).max(3600).default(60),
};

/** One way of client authentication, with exactly what it takes. */
function oneClientAuth<T extends z.ZodType<{ authMethod: string; privateKeyJwk?: unknown; clientSecret?: unknown }>>(schema: T) {
  return schema
    .refine((c) => (c.authMethod === 'private_key_jwt') === (c.privateKeyJwk !== undefined), {
      message: 'private_key_jwt takes privateKeyJwk, and only it does',
      path: ['privateKeyJwk'],
    })
    .refine((c) => (c.authMethod === 'private_key_jwt') !== (c.clientSecret !== undefined), {
      message: 'client_secret_basic and client_secret_post take clientSecret',
      path: ['clientSecret'],
    });
}

export const clientCredentialsInput = oneClientAuth(z.strictObject({ kind: z.literal('oauth_client_credentials'), ...oauthClientFields }));

/**
 * RFC 8693 token exchange: per call, Writ presents an assertion naming the user (`sub`) and the agent (`act.sub`),
 * signed with its own key (published in its JWKS), and injects the token the upstream's server issues for them.
 */
export const tokenExchangeInput = oneClientAuth(
  z.strictObject({
    kind: z.literal('token_exchange'),
    ...oauthClientFields,
    /** The assertion's `aud`: the upstream authorization server's issuer identifier (default: the token endpoint). */
    assertionAudience: z.string().min(1).max(2000).optional(),
  }),
);

/**
 * Connected accounts: each person connects their own account at the upstream once (authorization code + PKCE, Writ
 * the OAuth client); a call for user U gets an access token from U's refresh token, and never anyone else's.
 */
export const userOauthInput = oneClientAuth(
  z.strictObject({
    kind: z.literal('user_oauth'),
    ...oauthClientFields,
    /** The upstream authorization server's authorization endpoint (RFC 6749 §3.1), where people connect. */
    authorizationEndpoint: outboundUrl,
    /** RFC 7009: where a disconnected account's refresh token is revoked, when the upstream has one. */
    revocationEndpoint: outboundUrl.optional(),
  }),
);

/** What `PUT /admin/v1/secrets/{id}` accepts: a static value (`kind` may be left out) or a minted kind. */
export const secretKindInput = z.union([staticSecretInput, staticBasicInput, clientCredentialsInput, tokenExchangeInput, userOauthInput]);
export type SecretKindInput = z.output<typeof secretKindInput>;

/** The settings of a client-credentials secret that are not secret (stored in clear, shown by `describeSecret`). */
export interface ClientCredentialsConfig {
  tokenEndpoint: string;
  clientId: string;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  scope?: string | undefined;
  resource?: string | undefined;
  audience?: string | undefined;
  refreshBeforeSeconds: number;
  /** token_exchange only. */
  assertionAudience?: string | undefined;
  /** user_oauth only. */
  authorizationEndpoint?: string;
  revocationEndpoint?: string | undefined;
}

/** What is sealed for a client-credentials secret. */
export interface ClientCredentialsMaterial {
  clientSecret?: string;
  privateKeyJwk?: Record<string, unknown>;
}

/** Splits an input into what is sealed (as text) and the kind's clear settings. */
export function splitSecretInput(input: SecretKindInput): { kind: SecretKind; sealed: string; config: Record<string, unknown> | null } {
  if (input.kind === 'static' && 'username' in input)
    return { kind: 'static', sealed: JSON.stringify({ username: input.username, password: input.password }), config: { format: 'basic' } };
  if (input.kind === 'static') return { kind: 'static', sealed: input.value, config: null };
  const { kind, description: _d, clientSecret, privateKeyJwk, ...config } = input;
  const material: ClientCredentialsMaterial = clientSecret !== undefined ? { clientSecret } : { privateKeyJwk: privateKeyJwk ?? {} };
  return { kind, sealed: JSON.stringify(material), config: config satisfies ClientCredentialsConfig };
}
