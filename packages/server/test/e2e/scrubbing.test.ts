/**
 * Nothing injected comes back: an upstream that reflects the credential Writ injected — in a header, a JSON body,
 * percent-encoded, base64 at any offset, gzip-compressed, split across the writes of a streamed or SSE body — never
 * gets it to the agent, and each time a `secret.scrubbed` record names the resource and the secret, not the value.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { gzipSync } from 'node:zlib';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

/** Has `/`, `"`, `+` and `=`, so its JSON-escaped, percent-encoded and base64 forms all differ from it. */
const SECRET = 'sk/live"secret+value=1234567890&tail';
const DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/echo/*'] }];

interface AuditRow {
  id: string;
  type: string;
  resource?: string;
  reason?: string;
  task_id?: string;
  data?: Record<string, unknown>;
}

/** An upstream that writes the credential it was sent back in the form the path names. */
async function startReflectingUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const auth = req.headers.authorization ?? '';
    const secret = auth.replace(/^Bearer /, '');
    const path = (req.url ?? '').split('?')[0];
    const send = (body: string | Buffer, headers: Record<string, string | string[]> = {}): void => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(body);
    };
    switch (path) {
      case '/echo/headers':
        send('{}', {
          'x-echo-authorization': auth,
          'set-cookie': ['a=1', `session=${encodeURIComponent(secret)}`],
          location: `/x?t=${secret}`,
        });
        return;
      case '/echo/json':
        send(JSON.stringify({ you_sent: { authorization: auth }, escaped: JSON.stringify({ auth }) }));
        return;
      case '/echo/json-slashes':
        send(JSON.stringify({ auth }).replaceAll('/', '\\/'));
        return;
      case '/echo/percent':
        send(JSON.stringify({ next: `https://example.test/?token=${encodeURIComponent(secret)}` }));
        return;
      case '/echo/base64':
        send(
          JSON.stringify({
            b0: Buffer.from(secret).toString('base64'),
            b1: Buffer.from(`x${secret}`).toString('base64'),
            b2: Buffer.from(`xy${secret}`).toString('base64url'),
            basic: Buffer.from(`user:${secret}`).toString('base64'),
          }),
        );
        return;
      case '/echo/gzip':
        // Compressed although Writ asked for identity.
        send(gzipSync(JSON.stringify({ auth, acceptEncoding: req.headers['accept-encoding'] })), { 'content-encoding': 'gzip' });
        return;
      case '/echo/zstd':
        send(Buffer.from('opaque'), { 'content-encoding': 'zstd' });
        return;
      case '/echo/sse': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const text = `data: ${JSON.stringify({ auth })}\n\ndata: ${secret}\n\n`;
        // One write per few bytes, each flushed before the next: the secret is split across many chunks.
        let i = 0;
        const next = (): void => {
          if (i >= text.length) {
            res.end();
            return;
          }
          res.write(text.slice(i, i + 3), () => setImmediate(next));
          i += 3;
        };
        next();
        return;
      }
      case '/echo/accept-encoding':
        send(JSON.stringify({ acceptEncoding: req.headers['accept-encoding'] ?? null }));
        return;
      default:
        send(JSON.stringify({ fine: true, length: secret.length }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Anything in `text` that gives the secret back: as it is, JSON-escaped, percent-encoded, or inside any base64 run. */
function leaks(text: string): boolean {
  if (text.includes(SECRET) || text.includes(JSON.stringify(SECRET).slice(1, -1)) || text.includes(encodeURIComponent(SECRET))) return true;
  if (text.includes(SECRET.replaceAll('/', '\\/'))) return true;
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    for (const alphabet of ['base64', 'base64url'] as const)
      if (Buffer.from(run, alphabet).toString('latin1').includes('secret+value')) return true;
  }
  return false;
}

describeEachStore('scrubbing', (kind) => {
  const h = useHarness(kind);
  let agent: TestAgent;
  let upstream: { url: string; close(): Promise<void> };

  before(async () => {
    agent = await h.registerAgent('agent-a');
    upstream = await startReflectingUpstream();
    await h.admin.put('/secrets/reflected', { value: SECRET });
    await h.admin.post('/resources', { id: 'mirror', baseUrl: upstream.url, secretId: 'reflected', inject: { mode: 'bearer' } });
    await h.admin.post('/grants', {
      id: 'mirror',
      policy:
        'permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"mirror") when { context.path like "/echo/*" };',
    });
  });
  after(() => upstream.close());

  async function audit(): Promise<AuditRow[]> {
    return h.admin.get<AuditRow[]>('/audit?limit=1000');
  }

  test('every reflected form is replaced before the agent sees it, and audited by secret id', async () => {
    const task = await h.startTask(agent, { resource: 'mirror', details: DETAILS });
    for (const path of ['/echo/headers', '/echo/json', '/echo/json-slashes', '/echo/percent', '/echo/base64', '/echo/gzip', '/echo/sse']) {
      const before = (await audit()).length;
      const res = await task.fetch(`${h.resourceUri('mirror')}${path}`);
      assert.equal(res.status, 200, path);
      const body = await res.text();
      const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
      assert.ok(!leaks(body), `${path}: body leaks the secret: ${body}`);
      assert.ok(!leaks(headers), `${path}: headers leak the secret: ${headers}`);
      assert.ok(body.includes('[writ:scrubbed]') || headers.includes('[writ:scrubbed]'), `${path}: nothing was marked`);
      const events = (await audit()).slice(before);
      const scrubbed = events.filter((e) => e.type === 'secret.scrubbed');
      assert.ok(scrubbed.length >= 1, `${path}: no secret.scrubbed record`);
      const intent = events.find((e) => e.type === 'call.allowed');
      for (const e of scrubbed) {
        assert.equal(e.resource, 'mirror');
        assert.equal(e.task_id, task.id);
        assert.deepEqual(e.data?.['secrets'], ['reflected']);
        assert.equal(e.data?.['of'], intent?.id, 'linked to the call');
        assert.ok(!leaks(JSON.stringify(e)), 'the audit record never holds the value');
      }
      assert.equal(events.find((e) => e.type === 'call.outcome')?.reason, 'completed', path);
    }
  });

  test('the upstream is asked for an uncompressed answer; a compressed one arrives decompressed', async () => {
    const task = await h.startTask(agent, { resource: 'mirror', details: DETAILS });
    const asked = await task.fetch(`${h.resourceUri('mirror')}/echo/accept-encoding`, { headers: { 'accept-encoding': 'gzip, br' } });
    assert.deepEqual(await asked.json(), { acceptEncoding: 'identity' });
    const gz = await task.fetch(`${h.resourceUri('mirror')}/echo/gzip`);
    assert.equal(gz.headers.get('content-encoding'), null);
    const parsed = (await gz.json()) as { auth: string; acceptEncoding: string };
    assert.equal(parsed.acceptEncoding, 'identity');
    assert.match(parsed.auth, /^Bearer \[writ:scrubbed\]\**$/);
  });

  test('an encoding Writ cannot read is refused, not passed on', async () => {
    const task = await h.startTask(agent, { resource: 'mirror', details: DETAILS });
    const res = await task.fetch(`${h.resourceUri('mirror')}/echo/zstd`);
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { code: string }).code, 'ERR_UPSTREAM_UNAVAILABLE');
    const last = (await audit()).at(-1);
    assert.equal(last?.type, 'call.outcome');
    assert.equal(last.reason, 'ERR_UPSTREAM_UNAVAILABLE');
  });

  test('an answer without the secret is passed through untouched, with its length', async () => {
    const task = await h.startTask(agent, { resource: 'mirror', details: DETAILS });
    const before = (await audit()).length;
    const res = await task.fetch(`${h.resourceUri('mirror')}/echo/plain`);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { fine: true, length: SECRET.length });
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
    assert.equal((await audit()).slice(before).filter((e) => e.type === 'secret.scrubbed').length, 0);
  });
});
