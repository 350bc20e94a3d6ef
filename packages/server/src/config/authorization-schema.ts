/**
 * The `authorization` section of the configuration schema (schema.ts): Writ's own OAuth authorization server for stock
 * MCP clients — where people sign in, how long its codes, tokens, tasks and consents live, who may register a client.
 */
import { z } from 'zod';

export const authorizationConfig = z
  .strictObject({
    login: z
      .strictObject({
        provider: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/)
          .optional()
          .describe(
            'the trusted identity provider (its id in the register) people sign in at before they consent; unset: `/oauth2/authorize` answers `temporarily_unavailable` ([authorization-server.md](authorization-server.md))',
          ),
        clientId: z.string().min(1).max(500).optional().describe("Writ's client id at that provider (OpenID Connect, code + PKCE)"),
        clientSecret: z.string().min(1).optional().meta({
          description: 'its client secret, when the provider gave one; prefer the environment',
          defaultText: '— (a public client)',
        }),
        scope: z.string().min(1).max(500).default('openid email profile').describe('scopes Writ asks the provider for'),
      })
      .prefault({}),
    sessionSeconds: z
      .number()
      .int()
      .min(60)
      .max(3600)
      .default(600)
      .describe("lifetime of Writ's own sign-in session cookie (`HttpOnly`, `SameSite=Lax`, `Secure` outside loopback)"),
    codeLifetimeSeconds: z.number().int().min(5).max(60).default(60).describe('an authorization code is redeemable this long, once'),
    accessTokenLifetimeSeconds: z
      .number()
      .int()
      .positive()
      .max(3600)
      .default(300)
      .describe(
        'lifetime of the task tokens stock clients get (also bounded by `tokens.maxLifetimeSeconds` and, for bearer tokens, the resource)',
      ),
    taskLifetimeSeconds: z
      .number()
      .int()
      .positive()
      .max(30 * 86_400)
      .default(8 * 3600)
      .meta({
        description: 'longest a consented task (and its refresh tokens) lives; the consent page offers durations up to it',
        defaultText: '8 hours',
      }),
    rememberConsentDays: z
      .number()
      .int()
      .min(0)
      .max(365)
      .default(30)
      .describe('a consent the user asks Writ to remember is reused this long for the same client and resource; 0 never remembers'),
    registration: z
      .strictObject({
        mode: z
          .enum(['open', 'token', 'closed'])
          .default('token')
          .describe(
            'Dynamic Client Registration (RFC 7591) at `/oauth2/register`: `open` to anyone, `token` with the initial access token only (none set: nobody), `closed` off',
          ),
        initialAccessToken: z.string().min(16).optional().meta({
          description: 'the initial access token (RFC 7591 §3) registration needs in `token` mode; prefer the environment',
          defaultText: '—',
        }),
        newClientStatus: z
          .enum(['active', 'pending'])
          .default('pending')
          .describe(
            'status of a client that registers itself (RFC 7591 or a metadata document): `active` may be used at once, `pending` waits for an operator (`writ agents activate`)',
          ),
        owner: z.string().min(1).max(200).default('unassigned').describe('owner recorded for clients that register themselves'),
      })
      .prefault({}),
    metadataDocuments: z
      .strictObject({
        enabled: z.boolean().default(true).describe('accept Client ID Metadata Documents (a `client_id` that is an https URL)'),
        maxBytes: z.number().int().min(512).max(65_536).default(5120).describe('largest metadata document fetched'),
        timeoutMs: z.number().int().min(100).max(30_000).default(5000).describe('a metadata document fetch gives up after this long'),
        cacheSeconds: z
          .number()
          .int()
          .min(0)
          .max(86_400)
          .default(300)
          .describe('a fetched document is reused this long, then fetched again'),
        caFile: z.string().min(1).optional().meta({
          description:
            'PEM file of the certificate authorities trusted for metadata-document fetches instead of the system ones (an internal CA; `writ dev` uses its own)',
          defaultText: '— (the system CAs)',
        }),
      })
      .prefault({}),
  })
  .prefault({});
