/**
 * A real MCP server on loopback as tests and benchmarks need one: the SDK's McpServer over its own Streamable HTTP
 * server transport, one session (and one McpServer from `build`) per `initialize`, answered the way the SDK answers
 * by default. What each caller adds — recorded requests, extra tools, IPC — stays with the caller.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface McpSessionServerOptions {
  /** Sees every HTTP request (method, headers, parsed body) before the transport does. */
  onRequest?(request: { method: string; headers: IncomingHttpHeaders; body: unknown }): void;
  /** An upstream that wants a credential: false answers 401 before the transport sees the request. */
  authorize?(headers: IncomingHttpHeaders): Promise<boolean>;
  keepAliveTimeout?: number;
}

export interface McpSessionServer {
  /** `http://127.0.0.1:{port}/mcp` */
  url: string;
  /** Open sessions. */
  sessions(): number;
  close(): Promise<void>;
}

export async function serveMcpSessions(build: () => McpServer, opts: McpSessionServerOptions = {}): Promise<McpSessionServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse, text: string): Promise<void> => {
    const body: unknown = text === '' ? undefined : JSON.parse(text);
    opts.onRequest?.({ method: req.method ?? '', headers: req.headers, body });
    if (opts.authorize !== undefined && !(await opts.authorize(req.headers))) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
      return;
    }
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (transport === undefined) {
      // No session: only an initialize may start one; an unknown session id is 404, as the transport spec says.
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
  };
  const http: Server = createServer({ keepAliveTimeout: opts.keepAliveTimeout ?? 5_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
        console.error(err);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    sessions: () => transports.size,
    async close() {
      await Promise.all([...transports.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
