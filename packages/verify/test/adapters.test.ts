/**
 * The Fastify, Express and Hono adapters, each on a real loopback server in front of a stand-in Writ: a valid DPoP
 * call reaches the handler with `{ claims, jkt }`; every attack is answered exactly as Writ's gateway answers it
 * (`denialResponse`: status, `WWW-Authenticate`, JSON body); `htu` comes from the configured public URL, never from
 * `Host` or `X-Forwarded-*`; a verifier that is not ready answers 503.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import express from 'express';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { createWritVerifier, denialResponse, type WritVerifier } from '../src/index.js';
import type { WritAdapterOptions } from '../src/middleware/adapter-options.js';
import { writFastify } from '../src/adapters/fastify.js';
import { writExpress } from '../src/adapters/express.js';
import { writHono } from '../src/adapters/hono.js';
import { NOW, testKey } from './helpers.js';
import { FEED_TOKEN, startFakeWrit, until, type FakeWrit } from './fake-writ.js';

const PUBLIC = 'https://billing.example';
const PRM = 'https://billing.example/.well-known/oauth-protected-resource';

interface Served {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<Served> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const adapters: Record<string, (o: WritAdapterOptions) => Promise<Served>> = {
  fastify: async (o) => {
    const app = Fastify();
    await app.register(writFastify, o);
    app.get('/v1/invoices', async (req) => ({ sub: req.writ?.claims.sub, jkt: req.writ?.jkt }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  express: async (o) => {
    const app = express();
    app.use(writExpress(o));
    app.get('/v1/invoices', (req, res) => {
      res.json({ sub: req.writ?.claims.sub, jkt: req.writ?.jkt });
    });
    const { createServer } = await import('node:http');
    return listen(createServer(app));
  },
  hono: async (o) => {
    const app = new Hono();
    app.use('*', writHono(o));
    app.get('/v1/invoices', (c) => c.json({ sub: c.get('writ').claims.sub, jkt: c.get('writ').jkt }));
    return listen(createAdaptorServer({ fetch: app.fetch }) as Server);
  },
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http with raw header pairs, so repeated headers reach the server as sent. */
function send(base: string, path: string, method: string, headers: Array<[string, string]>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // With raw header pairs Node adds no Host of its own.
    const host: [string, string] = ['Host', new URL(base).host];
    const req = httpRequest(`${base}${path}`, { method, headers: [host, ...headers].flat() }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let fake: FakeWrit;
let verifier: WritVerifier;
let notReady: WritVerifier;
before(async () => {
  fake = await startFakeWrit();
  const common = { issuer: fake.issuer, audience: fake.audience, now: () => NOW * 1000 };
  verifier = createWritVerifier({ ...common, feedToken: FEED_TOKEN });
  notReady = createWritVerifier({ ...common, feedToken: 'wrong-feed-token', feed: { reconnectDelayMs: 1000 } });
  await verifier.whenReady();
  await until(notReady, (s) => s.lastError !== null);
});
after(async () => {
  await verifier.close();
  await notReady.close();
  await fake.close();
});

for (const [name, start] of Object.entries(adapters)) {
  describe(`${name} adapter`, () => {
    let svc: Served;
    let down: Served;
    before(async () => {
      svc = await start({ verifier, publicUrl: PUBLIC, resourceMetadata: PRM });
      down = await start({ verifier: notReady, publicUrl: PUBLIC, resourceMetadata: PRM });
    });
    after(async () => {
      await svc.close();
      await down.close();
    });

    async function dpopCall(
      token: string,
      o: { proofUrl?: string; proofMethod?: string; extra?: Array<[string, string]>; key?: Parameters<FakeWrit['proofFor']>[3] } = {},
    ) {
      const proof = await fake.proofFor(token, o.proofMethod ?? 'GET', o.proofUrl ?? `${PUBLIC}/v1/invoices`, o.key);
      return send(svc.url, '/v1/invoices?page=2', 'GET', [['Authorization', `DPoP ${token}`], ['DPoP', proof], ...(o.extra ?? [])]);
    }

    function assertDenied(a: Answer, code: Parameters<typeof denialResponse>[0], what: string): void {
      const want = denialResponse(code, { algs: verifier.algorithms, resourceMetadata: PRM });
      assert.equal(a.status, want.status, what);
      assert.deepEqual(JSON.parse(a.body), JSON.parse(want.body), what);
      assert.equal(a.body, want.body, `${what}: body byte for byte`);
      assert.equal(a.headers['www-authenticate'], want.headers['www-authenticate'], what);
      assert.equal(a.headers['cache-control'], 'no-store', what);
      assert.match(String(a.headers['content-type']), /^application\/json/, what);
    }

    test('a valid DPoP call reaches the handler with the verified claims', async () => {
      const token = await fake.token();
      const a = await dpopCall(token);
      assert.equal(a.status, 200, a.body);
      assert.deepEqual(JSON.parse(a.body), { sub: 'dev:alice', jkt: fake.dpop.jkt });
    });

    test('every attack is answered as the gateway answers it', async () => {
      const token = await fake.token();
      const other = await testKey('ES256');
      assertDenied(await send(svc.url, '/v1/invoices', 'GET', []), 'ERR_AUTH_MISSING', 'no Authorization');
      assertDenied(await send(svc.url, '/v1/invoices', 'GET', [['Authorization', `Bearer ${token}`]]), 'ERR_AUTH_SCHEME', 'Bearer');
      assertDenied(
        await dpopCall(token, { extra: [['Authorization', `DPoP ${token}`]] }),
        'ERR_AUTH_MULTIPLE',
        'two Authorization headers',
      );
      assertDenied(await dpopCall(await fake.token({ aud: `${fake.issuer}/r/other` })), 'ERR_TOKEN_AUDIENCE', 'wrong audience');
      assertDenied(await dpopCall(await fake.token({ exp: NOW - 60 })), 'ERR_TOKEN_EXPIRED', 'expired token');
      assertDenied(await dpopCall(token, { proofUrl: `${PUBLIC}/v1/other` }), 'ERR_DPOP_HTU', 'wrong htu');
      assertDenied(await dpopCall(token, { proofMethod: 'POST' }), 'ERR_DPOP_HTM', 'wrong htm');
      assertDenied(await dpopCall(token, { key: other }), 'ERR_DPOP_BINDING', 'proof by another key');
      const proof = await fake.proofFor(token, 'GET', `${PUBLIC}/v1/invoices`);
      const headers: Array<[string, string]> = [
        ['Authorization', `DPoP ${token}`],
        ['DPoP', proof],
      ];
      assert.equal((await send(svc.url, '/v1/invoices', 'GET', headers)).status, 200);
      assertDenied(await send(svc.url, '/v1/invoices', 'GET', headers), 'ERR_DPOP_REPLAY', 'replayed proof');
      const twoProofs = await send(svc.url, '/v1/invoices', 'GET', [...headers.slice(0, 1), ['DPoP', proof], ['DPoP', proof]]);
      assertDenied(twoProofs, 'ERR_DPOP_MULTIPLE', 'two DPoP headers');
    });

    test('htu is the configured public URL: Host and X-Forwarded-* are never trusted', async () => {
      const token = await fake.token();
      // A proof for the URL the Host header names (the loopback address) is a proof for another URI.
      assertDenied(await dpopCall(token, { proofUrl: `${svc.url}/v1/invoices` }), 'ERR_DPOP_HTU', 'proof for the Host URL');
      const forwarded: Array<[string, string]> = [
        ['X-Forwarded-Host', 'evil.example'],
        ['X-Forwarded-Proto', 'https'],
        ['Forwarded', 'host=evil.example;proto=https'],
      ];
      assertDenied(
        await dpopCall(token, { proofUrl: 'https://evil.example/v1/invoices', extra: forwarded }),
        'ERR_DPOP_HTU',
        'proof for the forwarded host',
      );
      assert.equal((await dpopCall(token, { extra: forwarded })).status, 200, 'the public URL still works behind those headers');
    });

    test('a verifier that is not ready answers 503 ERR_NOT_READY', async () => {
      const token = await fake.token();
      const proof = await fake.proofFor(token, 'GET', `${PUBLIC}/v1/invoices`);
      const a = await send(down.url, '/v1/invoices', 'GET', [
        ['Authorization', `DPoP ${token}`],
        ['DPoP', proof],
      ]);
      assertDenied(a, 'ERR_NOT_READY', 'not ready');
    });
  });
}

test('adapter options are validated once, at setup', () => {
  assert.throws(() => writExpress({ verifier, publicUrl: 'billing.example' }), TypeError);
  assert.throws(() => writExpress({ verifier, publicUrl: 'https://billing.example/?x=1' }), TypeError);
  assert.throws(() => writHono({ verifier: {} as WritVerifier, publicUrl: PUBLIC }), TypeError);
});
