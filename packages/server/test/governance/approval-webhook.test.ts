/**
 * The approvers' webhook, end to end on every store: a call held for approval is POSTed to `approvals.webhook.url` as
 * JSON (the approval with the call's arguments, its page), with the configured `Authorization` header, and a receiver
 * that fails the first attempt gets it again.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { AUTHORIZATION_SERVER_CONFIG } from '../helpers/authorization-harness.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';

const HTTP_APPROVAL = `@approval("group:secops")
permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.method == "POST" };`;
const HTTP_DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/*'] }];
const AUTHORIZATION = `Bearer hook-${'s'.repeat(24)}`;

interface Delivery {
  headers: IncomingHttpHeaders;
  body: {
    type?: string;
    approval?: { id?: string; status?: string; approvers?: string[]; call?: { action?: string; target?: string; arguments?: unknown } };
    approval_url?: string;
  };
  status: number;
}

/** Answers 503 to the first delivery of each approval and 200 to the rest; `deliveries(id, n)` waits for n of them. */
async function startReceiver(): Promise<{
  url: string;
  deliveries(id: string, n: number): Promise<Delivery[]>;
  close(): Promise<void>;
}> {
  const seen = new Map<string, Delivery[]>();
  const waiting: Array<{ id: string; n: number; resolve(d: Delivery[]): void }> = [];
  // A bound so that a delivery that never comes fails the test instead of hanging it (the retry is due after 0.5 s).
  const BOUND_MS = 20_000;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Delivery['body'];
      const id = body.approval?.id ?? '';
      const list = seen.get(id) ?? [];
      const status = list.length === 0 ? 503 : 200;
      list.push({ headers: req.headers, body, status });
      seen.set(id, list);
      res.writeHead(status).end();
      for (const w of waiting.filter((x) => x.id === id && list.length >= x.n)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(list.slice(0, w.n));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/approvals`,
    deliveries: (id, n) =>
      new Promise((resolve, reject) => {
        const list = seen.get(id) ?? [];
        if (list.length >= n) return resolve(list.slice(0, n));
        const timer = setTimeout(() => reject(new Error(`${seen.get(id)?.length ?? 0} of ${n} deliveries of ${id} arrived`)), BOUND_MS);
        waiting.push({
          id,
          n,
          resolve: (d) => {
            clearTimeout(timer);
            resolve(d);
          },
        });
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const receiver = await startReceiver();
after(() => receiver.close());

describeEachStore('approvals webhook', (kind) => {
  const h = useHarness(kind, {
    config: { ...AUTHORIZATION_SERVER_CONFIG, 'approvals.webhook.url': receiver.url, 'approvals.webhook.authorization': AUTHORIZATION },
  });
  let agent: TestAgent;

  before(async () => {
    agent = await h.registerAgent('agent-hook');
    await h.admin.post('/grants', { id: 'api-approval', policy: HTTP_APPROVAL });
  });

  test('a held call is POSTed to the approvers with its arguments and page, with the configured Authorization, and retried', async () => {
    const task = await h.startTask(agent, { details: HTTP_DETAILS });
    const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`, {
      method: 'POST',
      body: '{"name":"hooked"}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 403);
    const held = (await res.json()) as { approval_id: string; approval_url: string };

    const [first, second] = await receiver.deliveries(held.approval_id, 2);
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(first.status, 503);
    assert.equal(second.status, 200, 'delivered again after a failed attempt');
    for (const d of [first, second]) {
      assert.equal(d.headers['authorization'], AUTHORIZATION);
      assert.match(d.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(d.body.type, 'writ.approval.requested');
      assert.equal(d.body.approval_url, held.approval_url);
      assert.equal(d.body.approval?.status, 'pending');
      assert.deepEqual(d.body.approval?.approvers, ['group:secops']);
      assert.equal(d.body.approval?.call?.action, 'POST');
      assert.equal(d.body.approval?.call?.target, '/v1/projects');
      assert.equal((d.body.approval?.call?.arguments as { body_text?: string }).body_text, '{"name":"hooked"}');
    }
    assert.deepEqual(second.body, first.body, 'the retry carries the same approval');
  });
});
