/**
 * A client's metadata as Writ accepts it, whether it arrives in a Client ID Metadata Document
 * (draft-ietf-oauth-client-id-metadata-document) or a Dynamic Client Registration request (RFC 7591 §2): redirect
 * URIs Writ can match (redirect-uris.ts), the `authorization_code` grant with `code` responses, and `none` as the
 * token endpoint authentication (public clients: PKCE, and DPoP where they can). Everything a person reads on the
 * consent page is bounded plain text. Unknown members are kept for operators, never interpreted.
 */
import { z } from 'zod';
import { MAX_REDIRECT_URIS, redirectUriProblem } from './redirect-uris.js';

const text = (max: number) => z.string().max(max);
const httpsUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      return new URL(v).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https URL');

export const clientMetadataSchema = z.looseObject({
  redirect_uris: z
    .array(z.string())
    .min(1)
    .max(MAX_REDIRECT_URIS)
    .superRefine((uris, ctx) => {
      for (const u of uris) {
        const why = redirectUriProblem(u);
        if (why !== undefined) ctx.addIssue({ code: 'custom', message: `redirect URI ${JSON.stringify(u.slice(0, 200))}: ${why}` });
      }
    }),
  client_name: text(200).optional(),
  client_uri: httpsUrl.optional(),
  logo_uri: httpsUrl.optional(),
  grant_types: z.array(z.string().max(200)).max(10).optional(),
  response_types: z.array(z.string().max(50)).max(10).optional(),
  token_endpoint_auth_method: z.string().max(100).optional(),
  scope: text(1000).optional(),
  software_id: text(200).optional(),
  software_version: text(100).optional(),
  application_type: z.enum(['web', 'native']).optional(),
  contacts: z.array(text(200)).max(10).optional(),
});
export type ClientMetadata = z.output<typeof clientMetadataSchema>;

/** What Writ will not do for a client that asks for it; the message names the member. */
export function unsupportedMetadata(m: ClientMetadata): string | undefined {
  const method = m.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') return `token_endpoint_auth_method ${method} is not supported (public clients only: none)`;
  for (const g of m.grant_types ?? ['authorization_code']) {
    if (g !== 'authorization_code' && g !== 'refresh_token') return `grant_type ${g} is not supported for this client`;
  }
  if (!(m.grant_types ?? ['authorization_code']).includes('authorization_code')) return 'grant_types must include authorization_code';
  for (const r of m.response_types ?? ['code']) if (r !== 'code') return `response_type ${r} is not supported`;
  return undefined;
}

/** Printable text for a page: no control or bidirectional-override characters (a name that hides what it says). */
export function displayText(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) as number;
    const hidden =
      c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    if (!hidden) out += ch;
  }
  return out.trim();
}
