/**
 * The benchmark's upstream, in its own process: a real MCP server (the kit's SDK server with sessions, SSE answers as
 * the SDK serves them by default) on loopback, with one trivial tool, `echo`. Reports its port, and its CPU time on
 * request, over IPC.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { serveMcpSessions } from '@writ/dev/kit';

function build(): McpServer {
  const server = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
  server.registerTool('echo', { description: 'echo a message', inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text', text: `echo: ${message}` }],
  }));
  return server;
}

const server = await serveMcpSessions(build, { keepAliveTimeout: 60_000 });
process.on('message', (m: { cpu?: boolean; exit?: boolean }) => {
  if (m.cpu === true) process.send?.({ cpu: process.cpuUsage(), sessions: server.sessions() });
  if (m.exit === true) process.exit(0);
});
process.send?.({ ready: { url: server.url } });
