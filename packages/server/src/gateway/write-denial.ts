/**
 * One function shapes every denial at an enforcement point: the status from the error table, a
 * `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1, RFC 6750 §3) with `resource_metadata` (RFC 9728 §5.1), and a
 * JSON body with the stable code. No `error` parameter when the request carried no credentials (RFC 6750 §3.1).
 */
import type { ServerResponse } from 'node:http';
import { ERROR_CODES, type DenialBody, type ErrorCode } from '@writ/protocol';

export function writeDenial(
  res: ServerResponse,
  code: ErrorCode,
  opts: {
    algs: readonly string[];
    resourceMetadata?: string | undefined;
    nonce?: string;
    /** The resource also accepts bearer task tokens: a second, Bearer challenge (RFC 6750 §3) follows the DPoP one. */
    bearer?: boolean;
  },
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const info = ERROR_CODES[code];
  const params: string[] = [];
  if (info.challenge !== null) {
    params.push(`error="${info.challenge}"`, `error_description="${info.message}"`);
  }
  params.push(`algs="${opts.algs.join(' ')}"`);
  if (opts.resourceMetadata !== undefined) params.push(`resource_metadata="${opts.resourceMetadata}"`);
  const body: DenialBody = { error: info.challenge ?? errorForStatus(info.status), error_description: info.message, code };
  const json = JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(json)),
    'cache-control': 'no-store',
  };
  // RFC 9449 §9: a resource server's nonce travels in DPoP-Nonce (required with use_dpop_nonce, welcome otherwise).
  if (opts.nonce !== undefined) headers['dpop-nonce'] = opts.nonce;
  if (info.status === 401 || info.status === 403 || (info.status === 400 && info.challenge !== null))
    headers['www-authenticate'] =
      opts.bearer === true
        ? `DPoP ${params.join(', ')}, Bearer ${params.filter((p) => !p.startsWith('algs=')).join(', ')}`
        : `DPoP ${params.join(', ')}`;
  res.writeHead(info.status, headers);
  res.end(json);
}

function errorForStatus(status: number): string {
  if (status === 401) return 'invalid_request';
  if (status === 404) return 'not_found';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'too_many_requests';
  if (status === 502 || status === 504) return 'bad_gateway';
  if (status === 503) return 'temporarily_unavailable';
  return 'server_error';
}
