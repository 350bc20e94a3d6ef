/**
 * MCP over Writ with the stock MCP SDK: a `fetch` for its Streamable HTTP client transport that presents the task
 * token with a fresh DPoP proof (RFC 9449 §7.1) on every request to the task's MCP endpoint — POSTs, the GET stream,
 * DELETE — and answers Writ's nonce challenges. Requests to any other URL (the SDK's own metadata discovery, say)
 * go out without the task's credentials, so the token is only ever sent where it is valid.
 */
import type { Task } from './writ-agent.js';

export interface McpFetchOptions {
  /** The task whose token the MCP session runs under; its resource is the MCP endpoint. */
  task: Pick<Task, 'fetch'>;
  /** The MCP endpoint, `${issuer}/mcp/{resource}`: the URL given to the transport and the task's `resource`. */
  url: string | URL;
  /** For requests elsewhere; defaults to the global fetch. */
  fetch?: typeof fetch;
}

/**
 * @example
 * import { Client } from "@modelcontextprotocol/sdk/client/index.js";
 * import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
 * const url = 'http://127.0.0.1:7420/mcp/demo';
 * const task = await agent.startTask({ subjectToken, resource: url, purpose: 'echo',
 *   authorizationDetails: [{ type: 'mcp', tools: ['echo'] }] });
 * const client = new Client({ name: 'my-agent', version: '1.0.0' });
 * await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: createMcpFetch({ task, url }) }));
 * await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
 */
export function createMcpFetch(o: McpFetchOptions): typeof fetch {
  const endpoint = withoutQuery(new URL(o.url));
  const other = o.fetch ?? globalThis.fetch;
  return async function mcpFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const url = new URL(input instanceof Request ? input.url : input);
    return withoutQuery(url) === endpoint ? o.task.fetch(input, init) : other(input, init);
  };
}

function withoutQuery(u: URL): string {
  return `${u.origin}${u.pathname}`;
}
