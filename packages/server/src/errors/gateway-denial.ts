/**
 * Denials at Writ's own enforcement points (the HTTP and MCP gateways, the agent API). The shape — status,
 * `WWW-Authenticate: DPoP` challenge with `resource_metadata`, JSON body with the stable code — is `denialResponse`
 * from @writ/verify, the one implementation the verifier middleware answers with too, so a service and the gateway
 * refuse alike.
 */
import type { ServerResponse } from 'node:http';
import type { ErrorCode, WritError } from '@writ/protocol';
import { denialResponse, type DenialResponseOptions } from '@writ/verify';
import { sendWire, type WireResponse } from './wire-response.js';

export type GatewayDenialOptions = DenialResponseOptions;

export function gatewayDenialResponse(error: WritError | ErrorCode, opts: GatewayDenialOptions): WireResponse {
  return denialResponse(error, opts);
}

export function writeDenial(res: ServerResponse, error: WritError | ErrorCode, opts: GatewayDenialOptions): void {
  sendWire(res, denialResponse(error, opts));
}
