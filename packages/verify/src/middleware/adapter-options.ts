/**
 * What the framework adapters share: their options, validated once, and the step every one of them runs — the
 * absolute URL from the configured public URL and the request target, the verifier, and on refusal the one denial
 * shape (`denialResponse`).
 */
import type { WritError } from '@writ/protocol';
import type { VerifiedCall } from '../check/check-call.js';
import { asWritError, denialResponse, type DenialResponse } from './denial-response.js';
import { publicRequestUrl, type VerifierRequest, type WritVerifier } from './create-writ-verifier.js';

export interface WritAdapterOptions {
  verifier: WritVerifier;
  /**
   * The service's public base URL as clients address it (`https://billing.example`, or with a path prefix that the
   * request target does not carry). DPoP `htu` is checked against it plus the request target: `Host` and
   * `X-Forwarded-*` are never read.
   */
  publicUrl: string;
  /** This service's Protected Resource Metadata URL (RFC 9728), named in every challenge. */
  resourceMetadata?: string;
  /** Told every refusal, with its private detail (`error.detail`), for the service's own logs. */
  onDenied?: (error: WritError) => void;
}

export interface AdapterStep {
  /** Verifies, or answers how to deny. */
  run(method: string, target: string, headers: VerifierRequest['headers']): Promise<{ ok: VerifiedCall } | { deny: DenialResponse }>;
}

export function adapterStep(options: WritAdapterOptions): AdapterStep {
  if (typeof options?.verifier?.verify !== 'function') throw new TypeError('verifier is required (createWritVerifier)');
  if (typeof options.publicUrl !== 'string' || !URL.canParse(options.publicUrl)) throw new TypeError('publicUrl must be an absolute URL');
  const u = new URL(options.publicUrl);
  if (!/^https?:$/.test(u.protocol) || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '')
    throw new TypeError('publicUrl must be an http(s) URL without query, fragment or userinfo');
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  const { verifier, resourceMetadata, onDenied } = options;
  return {
    async run(method, target, headers) {
      try {
        return { ok: await verifier.verify({ method, url: publicRequestUrl(publicUrl, target), headers }) };
      } catch (err) {
        const e = asWritError(err);
        onDenied?.(e);
        return {
          deny: denialResponse(e, { algs: verifier.algorithms, resourceMetadata, bearer: verifier.acceptBearer }),
        };
      }
    },
  };
}
