/**
 * Writes a denial at one of Writ's own enforcement points. The shape — status, `WWW-Authenticate: DPoP` challenge
 * with `resource_metadata`, JSON body with the stable code — is `denialResponse` from @writ/verify, the one
 * implementation the verifier middleware answers with too, so a service and the gateway refuse alike.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '@writ/protocol';
import { denialResponse, type DenialResponseOptions } from '@writ/verify';

export function writeDenial(res: ServerResponse, code: ErrorCode, opts: DenialResponseOptions): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, headers, body } = denialResponse(code, opts);
  res.writeHead(status, headers);
  res.end(body);
}
