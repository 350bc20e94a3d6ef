/**
 * A real MCP server (the SDK's McpServer over its own Streamable HTTP server transport, with sessions) on loopback,
 * recording the headers of every request it receives, so tests can prove what Writ forwards and what it never does.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { serveMcpSessions } from '@writ/dev/kit';
import { z } from 'zod';

export interface McpTestUpstream {
  url: string;
  /** Headers of every HTTP request, in order. */
  requests: { method: string; headers: IncomingHttpHeaders; body: unknown }[];
  /** Tool calls the server executed, in order. */
  calls: { tool: string; args: unknown }[];
  /** Resolves once a call matching the predicate has been recorded (already, or later). */
  waitForCall(match: (c: { tool: string; args: unknown }) => boolean): Promise<void>;
  close(): Promise<void>;
}

function build(calls: McpTestUpstream['calls']): McpServer {
  const server = new McpServer({ name: 'test-upstream', version: '1.0.0' }, { capabilities: { logging: {} } });
  server.registerTool('echo', { description: 'echo a message', inputSchema: { message: z.string() } }, async ({ message }) => {
    calls.push({ tool: 'echo', args: { message } });
    return { content: [{ type: 'text', text: `echo: ${message}` }] };
  });
  server.registerTool('add', { description: 'add numbers', inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }) => {
    calls.push({ tool: 'add', args: { a, b } });
    return { content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } };
  });
  server.registerTool('read_file', { description: 'pretend to read', inputSchema: { path: z.string() } }, async ({ path }) => {
    calls.push({ tool: 'read_file', args: { path } });
    return { content: [{ type: 'text', text: `contents of ${path}` }] };
  });
  server.registerTool('search', { description: 'pretend to search', inputSchema: { query: z.string() } }, async ({ query }) => {
    calls.push({ tool: 'search', args: { query } });
    return { content: [{ type: 'text', text: `results for ${query}` }] };
  });
  // An upstream that tells the caller what it was sent: the credential Writ injected must not get back to the agent.
  server.registerTool('reflect_headers', { description: 'reflects the request headers' }, async (extra) => {
    calls.push({ tool: 'reflect_headers', args: {} });
    const headers = extra.requestInfo?.headers ?? {};
    const key = String(headers['x-api-key'] ?? '');
    return {
      content: [
        { type: 'text', text: `you sent ${JSON.stringify(headers)}` },
        { type: 'text', text: Buffer.from(`key:${key}`).toString('base64') },
      ],
      structuredContent: { [key]: 'as a key', nested: { value: key } },
    };
  });
  server.registerTool('read_secret_key', { description: 'must stay out of reach' }, async () => {
    calls.push({ tool: 'read_secret_key', args: {} });
    return { content: [{ type: 'text', text: 'the secret key' }] };
  });
  server.registerTool('delete_everything', { description: 'never call this' }, async () => {
    calls.push({ tool: 'delete_everything', args: {} });
    return { content: [{ type: 'text', text: 'deleted' }] };
  });
  server.registerTool('slow_count', { description: 'counts with progress', inputSchema: { n: z.number() } }, async ({ n }, extra) => {
    calls.push({ tool: 'slow_count', args: { n } });
    const token = extra._meta?.progressToken;
    for (let i = 1; i <= n; i++) {
      if (token !== undefined)
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: n } });
    }
    return { content: [{ type: 'text', text: `counted ${n}` }] };
  });
  server.registerTool('wait', { description: 'waits until cancelled' }, async (extra) => {
    calls.push({ tool: 'wait', args: {} });
    await new Promise<void>((resolve) => {
      if (extra.signal.aborted) resolve();
      extra.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    calls.push({ tool: 'wait', args: { cancelled: true } });
    return { content: [{ type: 'text', text: 'cancelled' }] };
  });
  server.registerResource('secret-notes', 'notes://secret', { description: 'private' }, async () => ({
    contents: [{ uri: 'notes://secret', text: 'the secret notes' }],
  }));
  server.registerPrompt('greet', { description: 'a greeting' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }],
  }));
  return server;
}

/**
 * `authorize`: an upstream that accepts only some credentials (401 otherwise), e.g. tokens its authorization server
 * says are active. `configure`: more tools (or anything else) on each session's server, their calls recorded too.
 */
export async function startMcpTestUpstream(
  o: {
    authorize?(headers: IncomingHttpHeaders): Promise<boolean>;
    configure?(server: McpServer, calls: McpTestUpstream['calls']): void;
  } = {},
): Promise<McpTestUpstream> {
  const requests: McpTestUpstream['requests'] = [];
  const waiters = new Set<{ match: (c: { tool: string; args: unknown }) => boolean; resolve: () => void }>();
  const calls: McpTestUpstream['calls'] = new Proxy([] as McpTestUpstream['calls'], {
    set(target, prop, value, receiver) {
      const ok = Reflect.set(target, prop, value, receiver);
      if (typeof prop === 'string' && /^\d+$/.test(prop)) {
        for (const w of waiters) {
          if (!w.match(value as { tool: string; args: unknown })) continue;
          waiters.delete(w);
          w.resolve();
        }
      }
      return ok;
    },
  });
  const server = await serveMcpSessions(
    () => {
      const s = build(calls);
      o.configure?.(s, calls);
      return s;
    },
    {
      onRequest: (r) => requests.push(r),
      ...(o.authorize !== undefined ? { authorize: o.authorize } : {}),
    },
  );
  return {
    url: server.url,
    requests,
    calls,
    waitForCall(match) {
      if (calls.some(match)) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.add({ match, resolve }));
    },
    close: () => server.close(),
  };
}
