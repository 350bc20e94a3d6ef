/** A raw token-endpoint request, for tests that must send exactly what a hostile or broken client would. */
import { GRANT_TYPE_TOKEN_EXCHANGE } from '@writ/protocol';

export interface TokenEndpointAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** Posts the form (undefined fields are left out; arrays repeat the parameter) with the given DPoP header, if any. */
export async function postTokenRequest(
  endpoint: string,
  fields: Record<string, string | readonly string[] | undefined>,
  dpop: string | null,
): Promise<TokenEndpointAnswer> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries({ grant_type: GRANT_TYPE_TOKEN_EXCHANGE, ...fields })) {
    if (v === undefined) continue;
    for (const one of typeof v === 'string' ? [v] : v) form.append(k, one);
  }
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop !== null ? { dpop } : {}) },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}
