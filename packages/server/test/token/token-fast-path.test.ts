/**
 * The token endpoint's raw node:http path answers with the bytes the Fastify route writes. Each request is sent twice,
 * once in the common shape (taken by the fast path) and once with `; charset=utf-8` on the content type (taken by
 * Fastify), and status, header names in order, header values and body are compared — for issuance, for refusals of
 * every family, and with a server nonce challenge. Requests of any other shape are still Fastify's.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { createClientAssertion, createDpopProof } from '@writ/agent';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE } from '@writ/protocol';
import { STORE_KINDS } from '../helpers/stores.js';
import { startHarness, type Harness, type TestAgent } from '../helpers/writ-harness.js';

interface Raw {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

function send(url: string, contentType: string, body: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const pairs: Array<[string, string]> = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string]);
          resolve({ status: res.statusCode ?? 0, headers: pairs, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What must be equal: everything but the date, and for issued tokens the parts that are fresh per token. */
function comparable(r: Raw): unknown {
  const body = JSON.parse(r.body) as Record<string, unknown>;
  if (typeof body['access_token'] === 'string') body['access_token'] = '<token>';
  if (typeof body['task_id'] === 'string') body['task_id'] = '<task>';
  const headers = r.headers
    .filter(([k]) => k.toLowerCase() !== 'date')
    .map(([k, v]) => [k, k === 'content-length' && body['access_token'] === '<token>' ? '<n>' : k === 'dpop-nonce' ? '<nonce>' : v]);
  return { status: r.status, headers, body };
}

const kind = STORE_KINDS[0];
for (const requireNonce of [false, true]) {
  test(`fast path and Fastify route answer alike (dpop.requireNonce ${requireNonce})`, async (t) => {
    if (kind === undefined) return t.skip('no store');
    const h: Harness = await startHarness(kind, { config: { 'dpop.requireNonce': requireNonce } });
    let agent: TestAgent;
    try {
      agent = await h.registerAgent('agent-a');
      const endpoint = `${h.writ.publicUrl}/oauth2/token`;
      const idToken = await h.userToken('alice');
      const form = async (over: Record<string, string | null> = {}): Promise<string> => {
        const f: Record<string, string | null> = {
          grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
          subject_token: idToken,
          subject_token_type: TOKEN_TYPE.idToken,
          resource: h.resourceUri('api'),
          authorization_details: JSON.stringify([{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*'] }]),
          purpose: 'compare',
          client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER,
          client_assertion: await createClientAssertion({
            clientId: agent.id,
            audience: endpoint,
            key: agent.clientKey,
            kid: agent.publicJwk.kid as string,
          }),
          ...over,
        };
        const p = new URLSearchParams();
        for (const [k, v] of Object.entries(f)) if (v !== null) p.set(k, v);
        return p.toString();
      };
      let nonce: string | undefined;
      const proof = async (): Promise<Record<string, string>> => ({
        dpop: await createDpopProof(agent.dpopKey, { htm: 'POST', htu: endpoint, ...(nonce !== undefined ? { nonce } : {}) }),
      });
      const both = async (make: () => Promise<[string, Record<string, string>]>): Promise<[Raw, Raw]> => {
        const [b1, h1] = await make();
        const fast = await send(endpoint, 'application/x-www-form-urlencoded', b1, h1);
        const [b2, h2] = await make();
        const slow = await send(endpoint, 'application/x-www-form-urlencoded; charset=utf-8', b2, h2);
        return [fast, slow];
      };
      const cases: Array<[string, () => Promise<[string, Record<string, string>]>]> = [
        ['no proof', async () => [await form(), {}]],
        ['bad assertion', async () => [await form({ client_assertion: 'a.b.c' }), await proof()]],
        ['unknown grant type', async () => [await form({ grant_type: 'password' }), await proof()]],
        ['bad details', async () => [await form({ authorization_details: '[{' }), await proof()]],
        ['unknown resource', async () => [await form({ resource: `${h.writ.publicUrl}/r/nope` }), await proof()]],
        ['bad user token', async () => [await form({ subject_token: 'x.y.z' }), await proof()]],
        [
          'not granted',
          async () => [
            await form({ authorization_details: JSON.stringify([{ type: 'http', actions: ['DELETE'], paths: ['/'] }]) }),
            await proof(),
          ],
        ],
        ['issued', async () => [await form(), await proof()]],
      ];
      for (const [name, make] of cases) {
        let [fast, slow] = await both(make);
        if (requireNonce && fast.status === 400 && JSON.parse(fast.body).error === 'use_dpop_nonce') {
          // The challenge itself is compared; then both are asked again with the nonce it handed out.
          assert.deepEqual(comparable(fast), comparable(slow), `${name}: the nonce challenge`);
          nonce = fast.headers.find(([k]) => k === 'dpop-nonce')?.[1];
          [fast, slow] = await both(make);
        }
        assert.deepEqual(comparable(fast), comparable(slow), name);
        if (name === 'issued') assert.equal(fast.status, 200, fast.body);
      }
    } finally {
      await h.close();
    }
  });
}
