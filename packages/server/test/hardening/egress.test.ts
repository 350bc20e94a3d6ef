/**
 * Egress only where meant: the rule on every spelling of a refused address, the connector on real connections
 * (a name resolved to a refused address, an IP literal, Writ's own listener), and the gateways end to end — an
 * upstream on a refused address gets nothing, the agent gets 502 ERR_EGRESS_REFUSED, the refusal is audited.
 * Tests run on loopback: 127.0.0.1 (the identity provider, Writ) is allowed here, 127.0.0.2 plays the address that
 * must not be reached.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { EgressGuard, EgressRefusedError } from '../../src/http/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';
import { eventually } from '../helpers/eventually.js';
import { postInitialize } from '../helpers/mcp-raw.js';
import { createReceiver, outboxRows, revoke, ssfCall } from '../ssf/ssf-helpers.js';

/** How Writ sees a URL's host: the WHATWG parser's normalised hostname, brackets removed. */
function hostOf(url: string): string {
  const h = new URL(url).hostname;
  return h.startsWith('[') ? h.slice(1, -1) : h;
}

test('every spelling of a refused address is refused, each for its reason; public addresses pass', () => {
  const guard = new EgressGuard({ allow: [] });
  const refused: [string, RegExp][] = [
    ['http://127.0.0.1/', /loopback/],
    ['http://127.1/', /loopback/],
    ['http://0x7f000001/', /loopback/],
    ['http://2130706433/', /loopback/],
    ['http://0177.0.0.1/', /loopback/],
    ['http://[::1]/', /loopback/],
    ['http://[::ffff:127.0.0.1]/', /loopback/],
    ['http://[::ffff:7f00:1]/', /loopback/],
    ['http://[64:ff9b::127.0.0.1]/', /loopback/],
    ['http://[2002:7f00:1::]/', /loopback/],
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://[fd00:ec2::254]/', /metadata/],
    ['http://100.100.100.200/', /shared address space/],
    ['http://168.63.129.16/', /Azure/],
    ['http://10.1.2.3/', /private/],
    ['http://172.16.5.4/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://0.0.0.0/', /this network/],
    ['http://[::]/', /unspecified/],
    ['http://[fe80::1]/', /link-local/],
    ['http://224.0.0.1/', /multicast/],
    ['http://255.255.255.255/', /reserved/],
    ['http://[::127.0.0.1]/', /IPv4-compatible/],
  ];
  for (const [url, reason] of refused) {
    const host = hostOf(url);
    assert.match(guard.refusal(host, host) ?? 'allowed', reason, url);
  }
  for (const url of ['http://93.184.216.34/', 'https://[2606:4700::1111]/', 'http://[::ffff:93.184.216.34]/', 'http://172.32.0.1/']) {
    const host = hostOf(url);
    assert.equal(guard.refusal(host, host), undefined, url);
  }
});

test('operators allow ranges, addresses and host names; a name is trusted, an address only in its range', () => {
  const guard = new EgressGuard({ allow: ['10.20.0.0/16', '192.168.7.7', 'fd12:3456::/32', 'api.internal.example'] });
  assert.equal(guard.refusal('10.20.4.5', '10.20.4.5'), undefined);
  assert.match(guard.refusal('10.21.0.1', '10.21.0.1') ?? '', /private/);
  assert.equal(guard.refusal('192.168.7.7', '192.168.7.7'), undefined);
  assert.match(guard.refusal('192.168.7.8', '192.168.7.8') ?? '', /private/);
  assert.equal(guard.refusal('fd12:3456::9', 'fd12:3456::9'), undefined);
  // A mapped spelling of an allowed address is the address.
  assert.equal(guard.refusal('::ffff:10.20.0.1', '::ffff:10.20.0.1'), undefined);
  assert.equal(guard.refusal('API.internal.example', '10.99.0.1'), undefined, 'names compare without case');
  assert.match(guard.refusal('other.example', '10.99.0.1') ?? '', /private/);
});

test("Writ's own listener is refused whatever is allowed, on its address or, when it listens everywhere, any local one", () => {
  const own = new EgressGuard({ allow: ['127.0.0.0/8'], ownListeners: () => [{ address: '127.0.0.1', port: 7420 }] });
  assert.match(own.refusal('127.0.0.1', '127.0.0.1', 7420) ?? '', /own listeners/);
  assert.match(own.refusal('::ffff:127.0.0.1', '::ffff:127.0.0.1', 7420) ?? '', /own listeners/);
  assert.equal(own.refusal('127.0.0.1', '127.0.0.1', 7421), undefined);
  const everywhere = new EgressGuard({ allow: ['127.0.0.0/8'], ownListeners: () => [{ address: '::', port: 7420 }] });
  assert.match(everywhere.refusal('127.0.0.5', '127.0.0.5', 7420) ?? '', /own listeners/);
});

describe('egress on real connections', () => {
  let server: Server;
  let port: number;
  let accepted = 0;

  before(async () => {
    server = createServer((_req, res) => res.end('reached'));
    server.on('connection', () => accepted++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a literal, a name that resolves to a refused address and an alternative spelling never connect; an allowed one does', async () => {
    const guard = new EgressGuard({ allow: [] });
    const agent = guard.agent();
    for (const url of [`http://127.0.0.1:${port}/`, `http://localhost:${port}/`, `http://2130706433:${port}/`, `http://127.1:${port}/`]) {
      await assert.rejects(request(url, { dispatcher: agent }), (e: unknown) => e instanceof EgressRefusedError, url);
    }
    assert.equal(accepted, 0, 'the server never saw a connection');
    await agent.close();
    const byName = new EgressGuard({ allow: ['localhost'] }).agent();
    const res = await request(`http://localhost:${port}/`, { dispatcher: byName });
    assert.equal(await res.body.text(), 'reached');
    await byName.close();
    const own = new EgressGuard({ allow: ['127.0.0.0/8'], ownListeners: () => [{ address: '127.0.0.1', port }] }).agent();
    const before = accepted;
    await assert.rejects(request(`http://127.0.0.1:${port}/`, { dispatcher: own }), (e: unknown) => e instanceof EgressRefusedError);
    assert.equal(accepted, before, 'refused before connecting');
    await own.close();
  });
});

describeEachStore('the gateways refuse egress to where it must not go', (kind) => {
  // Only the identity provider's and Writ's own address is allowed; 127.0.0.2 stands for an internal service.
  const h = useHarness(kind, { config: { 'egress.allow': ['127.0.0.1/32'] } });
  let internal: Server;
  let internalUrl: string;
  const seen: string[] = [];

  before(async () => {
    internal = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('internal data');
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.2', resolve));
    internalUrl = `http://127.0.0.2:${(internal.address() as AddressInfo).port}`;
    await h.admin.post('/resources', { id: 'internal', kind: 'http', baseUrl: internalUrl });
    await h.admin.post('/resources', { id: 'writ-itself', kind: 'http', baseUrl: h.writ.url });
    await h.admin.post('/resources', {
      id: 'internal-mcp',
      kind: 'mcp',
      mcp: { upstreams: [{ transport: 'http', url: `${internalUrl}/mcp` }] },
    });
    for (const id of ['internal', 'writ-itself'])
      await h.admin.post('/grants', {
        id,
        policy: `permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"${id}");`,
      });
    await h.admin.post('/grants', {
      id: 'internal-mcp',
      policy: 'permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"internal-mcp");',
    });
  });
  after(async () => {
    internal.closeAllConnections();
    await new Promise((resolve) => internal.close(resolve));
  });

  test('HTTP and MCP upstreams on a refused address, and Writ itself: 502 ERR_EGRESS_REFUSED, nothing sent, audited', async () => {
    const agent = await h.registerAgent('agent-e');
    const http = async (resource: string): Promise<{ status: number; code: string; taskId: string }> => {
      const task = await h.startTask(agent, { resource, details: [{ type: 'http', actions: ['GET'], paths: ['/admin/*'] }] });
      const res = await task.fetch(`${h.resourceUri(resource)}/admin/secrets`);
      return { status: res.status, code: ((await res.json()) as { code: string }).code, taskId: task.id };
    };
    const internalCall = await http('internal');
    assert.deepEqual([internalCall.status, internalCall.code], [502, 'ERR_EGRESS_REFUSED']);
    const itself = await http('writ-itself');
    assert.deepEqual([itself.status, itself.code], [502, 'ERR_EGRESS_REFUSED'], "Writ's own listener, though its address is allowed");

    const mcpUrl = h.mcpUri('internal-mcp');
    const task = await h.startTask(agent, { resourceUri: mcpUrl, details: [{ type: 'mcp', tools: ['*'] }] });
    const init = await postInitialize(task, mcpUrl);
    const answer = (await init.json()) as { error?: { data?: { code?: string } } };
    assert.equal(answer.error?.data?.code, 'ERR_EGRESS_REFUSED');
    assert.deepEqual(seen, [], 'the internal service never received a request');

    await h.writ.flushAudit();
    for (const t of [internalCall.taskId, itself.taskId, task.id]) {
      const rows = await h.admin.get<{ reason: string; type: string }[]>(`/audit?task=${t}&limit=10`);
      // Allowed by the grants and written ahead, then stopped at the egress guard: the outcome says so.
      assert.ok(
        rows.some((r) => r.type === 'call.outcome' && r.reason === 'ERR_EGRESS_REFUSED'),
        t,
      );
    }
  });

  test('a Shared Signals push endpoint on a refused address is never posted to; the SET waits in the outbox with why', async () => {
    const r = await createReceiver(h);
    const created = await ssfCall(h, r.token, 'POST', '/ssf/v1/streams', {
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `${internalUrl}/push`, authorization_header: 'Bearer push-secret' },
    });
    assert.equal(created.status, 201, created.text);
    const id = created.json()['stream_id'] as string;
    await revoke(h, { type: 'token', jti: 'tok_egress' });
    const rows = await eventually(async () => {
      const all = await outboxRows(h, id);
      return all.some((row) => (row.last_error ?? '').includes('egress')) ? all : undefined;
    }, 'a delivery attempt refused by the egress rules');
    assert.ok(rows.every((row) => row.state !== 'delivered'));
    assert.deepEqual(seen, [], 'the internal service never received a request');
    await h.admin.delete(`/ssf/receivers/${r.id}`);
  });
});
