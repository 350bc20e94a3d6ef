/**
 * Writ's one HTTP listener, bound before anything else is built: with port 0 (tests) the issuer and every resource
 * URI must name the real port. Until the composition root hands over its dispatcher, every request is answered
 * `503 ERR_NOT_READY` ("starting").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostForUrl } from '../config/index.js';
import { sendWire, writCodeResponse } from '../errors/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listener {
  server: Server;
  /** `http://{host}:{port}` as bound. */
  url: string;
  serve(dispatch: Handler): void;
  close(): Promise<void>;
}

export async function listen(host: string, port: number): Promise<Listener> {
  let dispatch: Handler | undefined;
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (dispatch === undefined) sendWire(res, writCodeResponse('ERR_NOT_READY', 'starting', { 'retry-after': '1' }));
    else dispatch(req, res);
  });
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
