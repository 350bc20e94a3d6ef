/**
 * Writ's one HTTP listener, bound before anything else is built: with port 0 (tests) the issuer and every resource
 * URI must name the real port. Until the composition root hands over its dispatcher, every request is answered
 * `503 ERR_NOT_READY` ("starting").
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { hostForUrl } from '../config/index.js';
import { sendWire, writCodeResponse, RETRY_AFTER_SECONDS } from '../errors/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listener {
  server: Server;
  /** `http://{host}:{port}` as bound. */
  url: string;
  serve(dispatch: Handler): void;
  close(): Promise<void>;
}

/** What a client may cost the listener: time to send a request, idle time between requests, header size and count. */
export interface ListenerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxHeadersCount: number;
}

/** A request the listener itself refused (timed out, unreadable), before any handler saw it: for the audit log. */
export type ListenerRefusal = (
  source: string,
  status: 400 | 408 | 431,
  reason: 'ERR_HTTP_REQUEST_TIMEOUT' | 'ERR_HTTP_MALFORMED' | 'ERR_HEADER_INVALID',
) => void;

/**
 * `exclusive`: in a worker of `writ serve --workers`, a port of this process's own rather than the one the cluster
 * shares (the private listener of session-relay.ts).
 */
export async function listen(
  host: string,
  port: number,
  limits: ListenerLimits,
  onRefused?: ListenerRefusal,
  opts: { exclusive?: boolean } = {},
): Promise<Listener> {
  let dispatch: Handler | undefined;
  const server = createServer(
    {
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // Node closes a request still being received after this (408), whatever the handler does; responses and the
      // streams served on them are not limited by it.
      requestTimeout: limits.requestTimeoutMs,
      // How often Node looks for requests past those two; its 30 s default would let a stalled client stay up to 30 s
      // longer than the limit says.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      maxHeaderSize: limits.maxHeaderBytes,
    },
    (req, res) => {
      if (dispatch === undefined)
        sendWire(res, writCodeResponse('ERR_NOT_READY', 'starting', { 'retry-after': String(RETRY_AFTER_SECONDS) }));
      else dispatch(req, res);
    },
  );
  // Node drops headers past maxHeadersCount without a word; one more is kept so that the dispatcher sees a request
  // that goes past the limit, and refuses it (431, audited).
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  // What Node answers itself (a stalled request: 408; an unreadable one: 400; headers too large: 431), answered the
  // same way here so that it can be put on the record: otherwise the slowest attacks would leave no trace.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || code === 'EPIPE') return void socket.destroy();
    const [status, reason] =
      code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ([408, 'ERR_HTTP_REQUEST_TIMEOUT'] as const)
        : code === 'HPE_HEADER_OVERFLOW'
          ? ([431, 'ERR_HEADER_INVALID'] as const)
          : ([400, 'ERR_HTTP_MALFORMED'] as const);
    onRefused?.((socket as Socket).remoteAddress ?? 'unknown', status, reason);
    // As Node's own handler: answer only when no response has started on this connection.
    const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !started)
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: opts.exclusive === true }, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    server,
    url: `http://${hostForUrl(addr.address)}:${addr.port}`,
    serve: (d) => {
      dispatch = d;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
