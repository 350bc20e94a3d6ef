/**
 * Writ's RFC 9396 authorization detail types. The token carries only details that were both requested and
 * granted; enforcement points match every call against them structurally (see @writ/verify).
 *
 * `http`: `actions` are HTTP methods (upper case), `paths` are path patterns relative to the resource's base URL:
 * segments separated by `/`, where a segment `*` matches exactly one non-empty segment and a final segment `**`
 * matches zero or more segments. Everything else matches literally, after normalisation.
 */

export const AUTHORIZATION_DETAIL_TYPES = ['http', 'mcp'] as const;
export type AuthorizationDetailType = (typeof AUTHORIZATION_DETAIL_TYPES)[number];

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface HttpAuthorizationDetail {
  type: 'http';
  /** Resource URIs this detail applies to (RFC 9396 §2.2 `locations`); defaults to the token's audience. */
  locations?: string[];
  actions: HttpMethod[];
  paths: string[];
}

/** MCP tool calls (filled in by the MCP gateway issue); kept here so the token format is stable. */
export interface McpAuthorizationDetail {
  type: 'mcp';
  locations?: string[];
  tools: string[];
}

export type AuthorizationDetail = HttpAuthorizationDetail | McpAuthorizationDetail;
