/**
 * A Client ID Metadata Document served over https on loopback, with a certificate made for this run: what an MCP host
 * publishes as its `client_id`. Writ trusts the certificate through `authorization.metadataDocuments.caFile`.
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';

export interface ClientMetadataServer {
  /** The document's URL: the client's `client_id`. */
  clientId: string;
  /** The certificate (PEM) to trust. */
  caPem: string;
  /** Replace the document served (to test a changed or forged one). */
  serve(doc: Record<string, unknown>): void;
  /** How many times the document was fetched. */
  readonly fetches: number;
  close(): Promise<void>;
}

export async function serveClientMetadataDocument(
  doc: (clientId: string) => Record<string, unknown>,
  opts: { path?: string } = {},
): Promise<ClientMetadataServer> {
  const path = opts.path ?? '/oauth/client-metadata.json';
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  let body = '';
  let fetches = 0;
  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    if ((req.url ?? '') !== path) {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const clientId = `https://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  body = JSON.stringify(doc(clientId));
  return {
    clientId,
    caPem: pems.cert,
    serve: (d) => {
      body = JSON.stringify(d);
    },
    get fetches() {
      return fetches;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
