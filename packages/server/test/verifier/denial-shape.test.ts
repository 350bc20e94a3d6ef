/**
 * One denial shape everywhere: the gateway's `writeDenial` writes the verifier's `denialResponse`,
 * and that shape is pinned here independently, for every error code: status from the table, the RFC 6750 / 9449
 * challenge rules, the JSON body with the stable code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerResponse } from 'node:http';
import { ERROR_CODES, type ErrorCode } from '@writ/protocol';
import { denialResponse } from '@writ/verify';
import { writeDenial } from '../../src/errors/index.js';

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

test('every code: the status from the table, the challenge rules, the body with the stable code; writeDenial writes it', () => {
  const variants: Array<Parameters<typeof writeDenial>[2]> = [
    { algs: ['ES256'] },
    { algs: ['ES256', 'EdDSA'], resourceMetadata: 'https://writ.example/.well-known/oauth-protected-resource/r/billing' },
    { algs: ['ES256'], nonce: 'n-1', bearer: true },
  ];
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const info = ERROR_CODES[code];
    for (const opts of variants) {
      const what = `${code} ${JSON.stringify(opts)}`;
      const out = written(code, opts);
      assert.deepEqual(out, denialResponse(code, opts), what);
      assert.equal(out.status, info.status, what);
      const body = JSON.parse(out.body) as Record<string, unknown>;
      assert.equal(body['code'], code, what);
      assert.equal(body['error_description'], info.message, what);
      if (info.challenge !== null) assert.equal(body['error'], info.challenge, what);
      assert.equal(out.headers['cache-control'], 'no-store', what);
      assert.equal(out.headers['content-length'], String(Buffer.byteLength(out.body)), what);
      assert.equal(out.headers['dpop-nonce'], opts.nonce, what);
      const challenged = info.status === 401 || info.status === 403 || (info.status === 400 && info.challenge !== null);
      const www = out.headers['www-authenticate'];
      assert.equal(www !== undefined, challenged, what);
      if (www === undefined) continue;
      assert.ok(www.startsWith(`DPoP ${info.challenge !== null ? `error="${info.challenge}", ` : ''}`), what);
      assert.ok(www.includes(`algs="${opts.algs.join(' ')}"`), what);
      if (opts.resourceMetadata !== undefined) assert.ok(www.includes(`resource_metadata="${opts.resourceMetadata}"`), what);
      assert.equal(www.includes(', Bearer '), opts.bearer === true, what);
    }
  }
});

test('a denial after the answer has started cuts the connection instead', () => {
  let destroyed = false;
  const res = { headersSent: true, destroy: () => (destroyed = true), writeHead: () => assert.fail('no second head') };
  writeDenial(res as unknown as ServerResponse, 'ERR_POLICY_DENIED', { algs: ['ES256'] });
  assert.equal(destroyed, true);
});
