/**
 * RFC 8707 `resource` (absolute URI of a Writ resource: `{publicUrl}/r/{id}` for an HTTP API, `{publicUrl}/mcp/{id}`
 * for an MCP server — the URL stock MCP clients connect to and name as their resource) or RFC 8693 `audience` (its
 * logical name, the resource id) name exactly one registered resource; anything else is `invalid_target`. The
 * token's audience is always the canonical URI of the resource's kind, so an MCP token never works at `/r/` and the
 * other way round.
 */
import { PATHS } from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';
import { resourceUri, type Resource } from '../../register/index.js';
import { isRegisterId } from '../../ids/index.js';
import type { TokenRequestParams } from './parse-token-request.js';

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
    const prefix = [PATHS.httpResourcePrefix, PATHS.mcpResourcePrefix].map((p) => `${deps.publicUrl}${p}`).find((p) => r.startsWith(p));
    if (prefix === undefined) throw new OAuthError('invalid_target', 'resource is not served by this Writ', { detail: r });
    const id = r.slice(prefix.length);
    if (!isRegisterId(id)) throw new OAuthError('invalid_target', 'unknown resource', { detail: r });
    ids.add(id);
  }
  for (const a of params.audience) ids.add(a);
  if (ids.size !== 1) throw new OAuthError('invalid_target', 'a task token is issued for exactly one resource');
  const [id] = [...ids] as [string];
  const resource = await deps.findResource(id);
  if (resource === undefined) throw new OAuthError('invalid_target', 'unknown resource', { detail: id });
  const uri = resourceUri(deps.publicUrl, resource);
  // Named by URI, the URI must be the resource's own: `/r/files` does not name the MCP resource `files`.
  if (params.resource.some((r) => r !== uri))
    throw new OAuthError('invalid_target', 'unknown resource', { detail: params.resource.join(' ') });
  return { resource, uri };
}
