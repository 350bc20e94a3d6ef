/**
 * The benchmark's upstream, in its own process: a real MCP server (the SDK's McpServer over its Streamable HTTP
 * server transport, one session per client, SSE answers as the SDK serves them by default) on loopback, with one
 * trivial tool, `echo`. Reports its port, and its CPU time on request, over IPC.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

function build(): McpServer {
  const server = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
  server.registerTool('echo', { description: 'echo a message', inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text', text: `echo: ${message}` }],
  }));
  return server;
}

const transports = new Map<string, StreamableHTTPServerTransport>();

const http = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text === '' ? undefined : JSON.parse(text);
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
      if (transport === undefined) {
        if (req.method !== 'POST' || (body as { method?: string } | undefined)?.method !== 'initialize') {
          res.writeHead(typeof sid === 'string' ? 404 : 400).end();
          return;
        }
        const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id: string): void => {
            transports.set(id, t);
          },
        });
        t.onclose = () => {
          if (t.sessionId !== undefined) transports.delete(t.sessionId);
        };
        await build().connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res, body);
    })().catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
});

http.listen(0, '127.0.0.1', () => {
  process.on('message', (m: { cpu?: boolean; exit?: boolean }) => {
    if (m.cpu === true) process.send?.({ cpu: process.cpuUsage(), sessions: transports.size });
    if (m.exit === true) process.exit(0);
  });
  process.send?.({ ready: { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp` } });
});
