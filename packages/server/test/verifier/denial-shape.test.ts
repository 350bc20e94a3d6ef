/**
 * One denial shape everywhere (SPEC principle 7): for every error code and every option, the verifier's
 * `denialResponse` says exactly what the gateway's `writeDenial` writes — status, headers, body.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerResponse } from 'node:http';
import { ERROR_CODES, type ErrorCode } from '@writ/protocol';
import { denialResponse } from '@writ/verify';
import { writeDenial } from '../../src/gateway/write-denial.js';

function written(
  code: ErrorCode,
  opts: Parameters<typeof writeDenial>[2],
): { status: number; headers: Record<string, string>; body: string } {
  const out = { status: 0, headers: {} as Record<string, string>, body: '' };
  const res = {
    headersSent: false,
    writeHead(status: number, headers: Record<string, string>) {
      out.status = status;
      out.headers = headers;
      return res;
    },
    end(body: string) {
      out.body = body;
      return res;
    },
  };
  writeDenial(res as unknown as ServerResponse, code, opts);
  return out;
}

test('denialResponse answers exactly as the gateway for every code', () => {
  const variants: Array<Parameters<typeof writeDenial>[2]> = [
    { algs: ['ES256'] },
    { algs: ['ES256', 'EdDSA'], resourceMetadata: 'https://writ.example/.well-known/oauth-protected-resource/r/billing' },
    { algs: ['ES256'], nonce: 'n-1', bearer: true },
  ];
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    for (const opts of variants) assert.deepEqual(denialResponse(code, opts), written(code, opts), `${code} ${JSON.stringify(opts)}`);
  }
});
