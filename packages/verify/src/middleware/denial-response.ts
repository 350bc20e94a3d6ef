/**
 * The one shape of a denial at any Writ enforcement point, as data: the status from the error table, a
 * `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1, RFC 6750 §3) with `algs` and `resource_metadata` (RFC 9728
 * §5.1), and the JSON body `{error, error_description, code}`. No `error` parameter when the request carried no
 * credentials (RFC 6750 §3.1). Every adapter answers with it, byte for byte what Writ's gateway answers.
 */
import { ERROR_CODES, WritError, type DenialBody, type ErrorCode } from '@writ/protocol';

export interface DenialResponseOptions {
  /** The DPoP algorithms this enforcement point accepts, for the challenge's `algs`. */
  algs: readonly string[];
  /** This resource's Protected Resource Metadata URL (RFC 9728). */
  resourceMetadata?: string | undefined;
  /** A server nonce to hand out in `DPoP-Nonce` (RFC 9449 §9). */
  nonce?: string | undefined;
  /** The resource also accepts bearer task tokens: a second, Bearer challenge (RFC 6750 §3) follows the DPoP one. */
  bearer?: boolean | undefined;
  /** Seconds after which a retry may succeed (`Retry-After`, RFC 9110 §10.2.3): for refusals that are not final. */
  retryAfter?: number | undefined;
}

export interface DenialResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The JSON text of a `DenialBody`. */
  body: string;
}

/**
 * @example
 * const { status, headers, body } = denialResponse(err, { algs: ['ES256'], resourceMetadata });
 * res.writeHead(status, headers).end(body);
 */
export function denialResponse(error: WritError | ErrorCode, opts: DenialResponseOptions): DenialResponse {
  const code = typeof error === 'string' ? error : error.code;
  const info = ERROR_CODES[code];
  if (info === undefined) throw new TypeError(`unknown error code ${String(code)}`);
  const params: string[] = [];
  if (info.challenge !== null) params.push(`error="${info.challenge}"`, `error_description="${info.message}"`);
  params.push(`algs="${opts.algs.join(' ')}"`);
  if (opts.resourceMetadata !== undefined) params.push(`resource_metadata="${opts.resourceMetadata}"`);
  const denial: DenialBody = {
    error: info.challenge ?? errorForStatus(info.status),
    error_description: info.message,
    code,
    ...(typeof error === 'string' ? {} : error.hint),
  };
  const body = JSON.stringify(denial);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  };
  if (opts.nonce !== undefined) headers['dpop-nonce'] = opts.nonce;
  if (opts.retryAfter !== undefined) headers['retry-after'] = String(Math.max(0, Math.ceil(opts.retryAfter)));
  if (info.status === 401 || info.status === 403 || (info.status === 400 && info.challenge !== null))
    headers['www-authenticate'] =
      opts.bearer === true
        ? `DPoP ${params.join(', ')}, Bearer ${params.filter((p) => !p.startsWith('algs=')).join(', ')}`
        : `DPoP ${params.join(', ')}`;
  return { status: info.status, headers, body };
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

/** Any failure as a WritError: a WritError as it is, anything else `ERR_INTERNAL` with the failure as private detail. */
export function asWritError(err: unknown): WritError {
  if (err instanceof WritError) return err;
  return new WritError('ERR_INTERNAL', String((err as Error | undefined)?.stack ?? err));
}
