/**
 * Writ's one HTTP listener, bound before anything else is built: with port 0 (tests) the issuer and every resource
 * URI must name the real port. Until the composition root hands over its dispatcher, every request is answered
 * `503 ERR_NOT_READY` ("starting").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

export async function listen(host: string, port: number, limits: ListenerLimits): Promise<Listener> {
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
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
