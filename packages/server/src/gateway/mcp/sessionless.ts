/**
 * MCP 2026-07-28, the sessionless revision: no handshake and no session; each POST carries its protocol version in
 * `_meta` and names its method (and, for calls, the tool, resource or prompt) in `Mcp-Method`/`Mcp-Name`. A gateway
 * that authorized on headers while the server read the body could be bypassed, so both must say the same, or the
 * request is refused before anything else. Upstreams keep their sessions: Writ holds one per task and key
 * (session-registry.ts), opened from the client's `_meta`.
 */
import type { IncomingMessage } from 'node:http';
import { headerValues } from '@writ/verify/internal';
import type { JsonRpcMessage } from '../../errors/index.js';
import type { ClassifiedMessage } from './json-rpc.js';

/** The sessionless revision. */
export const MODERN_VERSION = '2026-07-28';
/** Protocol revisions served with sessions; the header is optional before 2025-06-18 (MCP: assume 2025-03-26). */
export const SESSION_PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;
/** What Writ speaks to upstreams for a sessionless agent: the newest revision with sessions. */
export const UPSTREAM_VERSION_FOR_MODERN = '2025-11-25';

/** Methods whose target travels in `Mcp-Name`, and the params member it mirrors. */
const NAMED_METHODS: Readonly<Record<string, 'name' | 'uri'>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/** Why the request metadata headers disagree with the body, or undefined when they agree. */
export function headerMismatch(req: IncomingMessage, msg: ClassifiedMessage): string | undefined {
  if (msg.kind === 'response') return undefined;
  const methods = headerValues(req.rawHeaders, 'mcp-method');
  if (methods.length !== 1)
    return msg.kind === 'request' || methods.length > 1 ? `Mcp-Method header ${methods.length === 0 ? 'missing' : 'repeated'}` : undefined;
  if (decodeHeaderValue(methods[0] as string) !== msg.method) return 'Mcp-Method does not match the method';
  const member = NAMED_METHODS[msg.method];
  const names = headerValues(req.rawHeaders, 'mcp-name');
  if (member !== undefined) {
    if (names.length !== 1) return `Mcp-Name header ${names.length === 0 ? 'missing' : 'repeated'}`;
    const target = msg.params?.[member];
    if (typeof target !== 'string' || decodeHeaderValue(names[0] as string) !== target) return `Mcp-Name does not match params.${member}`;
  } else if (names.length > 0) return 'Mcp-Name on a method that names nothing';
  if (msg.kind === 'request') {
    const meta = msg.params?.['_meta'] as Record<string, unknown> | undefined;
    if (meta?.['io.modelcontextprotocol/protocolVersion'] !== MODERN_VERSION)
      return '_meta protocolVersion does not match MCP-Protocol-Version';
  }
  return undefined;
}

/** Header values: plain ASCII, or `=?base64?<base64 of UTF-8>?=` for anything else. */
function decodeHeaderValue(v: string): string | undefined {
  const m = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(v.trim());
  if (m === null) return v.trim();
  const bytes = Buffer.from(m[1] as string, 'base64');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  // A value that does not round-trip was not base64 of UTF-8: it matches nothing.
  return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

/** What a sessionless client declares in a request's `_meta`: its capabilities (never its roots) and who it is. */
export function clientFromMeta(msg: ClassifiedMessage): { capabilities: Record<string, unknown>; clientInfo: unknown } {
  const meta = (msg.kind !== 'response' ? msg.params?.['_meta'] : undefined) as Record<string, unknown> | undefined;
  const capabilities = (meta?.['io.modelcontextprotocol/clientCapabilities'] ?? {}) as Record<string, unknown>;
  return { capabilities, clientInfo: meta?.['io.modelcontextprotocol/clientInfo'] ?? { name: 'writ-gateway', version: '1.0.0' } };
}

/** The `server/discover` answer, from what the upstream said at initialize. */
export function discoverResult(serverInitialize: Record<string, unknown> | undefined): Record<string, unknown> {
  const init = serverInitialize ?? {};
  return {
    supportedVersions: [MODERN_VERSION, ...[...SESSION_PROTOCOL_VERSIONS].reverse()],
    capabilities: init['capabilities'] ?? {},
    serverInfo: init['serverInfo'] ?? { name: 'writ-gateway', version: '1.0.0' },
    ...(typeof init['instructions'] === 'string' ? { instructions: init['instructions'] } : {}),
    ttlMs: 60_000,
    cacheScope: 'private',
  };
}

/**
 * Results for a 2026-07-28 client: `resultType`, and on list results `ttlMs`/`cacheScope`. A list Writ filtered for
 * one task is never `public`: another caller may see a different one.
 */
export function modernize(answer: JsonRpcMessage, method: string): JsonRpcMessage {
  const result = answer['result'];
  if (typeof result !== 'object' || result === null) return answer;
  const r = { resultType: 'complete', ...(result as Record<string, unknown>) };
  if (method.endsWith('/list')) Object.assign(r, { ttlMs: 60_000, cacheScope: 'private' });
  return { ...answer, result: r };
}
