/**
 * RFC 8707 `resource` (absolute URI of a Writ resource, `{publicUrl}/r/{id}`) or RFC 8693 `audience` (its logical
 * name, the resource id) name exactly one registered resource; anything else is `invalid_target`.
 */
import { PATHS } from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';
import type { Resource } from '../../register/index.js';
import type { TokenRequestParams } from './parse-token-request.js';

export function resourceUri(publicUrl: string, id: string): string {
  return `${publicUrl}${PATHS.httpResourcePrefix}${id}`;
}

export async function resolveResource(
  params: TokenRequestParams,
  deps: { publicUrl: string; findResource(id: string): Promise<Resource | undefined> },
): Promise<{ resource: Resource; uri: string }> {
  const named = [...params.resource, ...params.audience];
  if (named.length === 0) throw new OAuthError('invalid_target', 'resource (RFC 8707) or audience is required');
  const ids = new Set<string>();
  for (const r of params.resource) {
    let url: URL;
    try {
      url = new URL(r);
    } catch {
      throw new OAuthError('invalid_target', 'resource must be an absolute URI');
    }
    if (url.hash !== '' || r.includes('#')) throw new OAuthError('invalid_target', 'resource must not contain a fragment');
    const prefix = `${deps.publicUrl}${PATHS.httpResourcePrefix}`;
    if (!r.startsWith(prefix)) throw new OAuthError('invalid_target', 'resource is not served by this Writ', { detail: r });
    const id = r.slice(prefix.length);
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(id)) throw new OAuthError('invalid_target', 'unknown resource', { detail: r });
    ids.add(id);
  }
  for (const a of params.audience) ids.add(a);
  if (ids.size !== 1) throw new OAuthError('invalid_target', 'a task token is issued for exactly one resource');
  const [id] = [...ids] as [string];
  const resource = await deps.findResource(id);
  if (resource === undefined) throw new OAuthError('invalid_target', 'unknown resource', { detail: id });
  return { resource, uri: resourceUri(deps.publicUrl, id) };
}
