/**
 * Where a registered resource lives on Writ: `{publicUrl}/r/{id}` for an HTTP API, `{publicUrl}/mcp/{id}` for an MCP
 * server (the URL stock MCP clients connect to). That URI is the resource's identifier (RFC 8707), the audience of
 * its task tokens, and — under `/.well-known/oauth-protected-resource` — the address of its metadata (RFC 9728 §3).
 */
import { PATHS } from '@writ/protocol';
import type { Resource } from './entities.js';

export function resourcePrefix(kind: Resource['kind']): string {
  return kind === 'mcp' ? PATHS.mcpResourcePrefix : PATHS.httpResourcePrefix;
}

export function resourceUri(publicUrl: string, resource: Pick<Resource, 'id' | 'kind'>): string {
  return `${publicUrl}${resourcePrefix(resource.kind)}${resource.id}`;
}

export function resourceMetadataUrl(publicUrl: string, resource: Pick<Resource, 'id' | 'kind'>): string {
  return `${publicUrl}${PATHS.protectedResourceMetadata}${resourcePrefix(resource.kind)}${resource.id}`;
}
