/**
 * OpenTelemetry traces against an OTLP/HTTP receiver on loopback (the protocol's JSON encoding, as the exporter
 * sends it): a span for the token exchange and one for each gateway call, continuing the agent's `traceparent`; the
 * upstream receives Writ's span as its parent, and the audit record names the same trace and span.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { eventually } from '../helpers/eventually.js';
import { useHarness } from '../helpers/writ-harness.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
}

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : (v['stringValue'] ?? v['intValue'] ?? v['boolValue']);
};

test('the standard OTEL_* variables configure the exporter; without them tracing is off', () => {
  const base = { WRIT_KEK: Buffer.alloc(32, 1).toString('base64') };
  assert.equal(loadConfig({ file: null, env: base }).tracing.exporter, 'none');
  const c = loadConfig({
    file: null,
    env: {
      ...base,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%20def',
      OTEL_SERVICE_NAME: 'writ-eu-1',
    },
  });
  assert.deepEqual(
    [c.tracing.exporter, c.tracing.endpoint, c.tracing.headers, c.tracing.serviceName],
    ['otlp', 'http://127.0.0.1:4318', 'x-api-key=abc%20def', 'writ-eu-1'],
  );
});

describeEachStore('tracing', (kind) => {
  const spans: OtlpSpan[] = [];
  const resources: unknown[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(415).end();
        return;
      }
      const doc = JSON.parse(body) as {
        resourceSpans: Array<{ resource: unknown; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of doc.resourceSpans) {
        resources.push(rs.resource);
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  let port = 0;
  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as AddressInfo).port;
  });
  after(() => receiver.close());
  const h = useHarness(kind, {
    config: {
      'tracing.exporter': 'otlp',
      get 'tracing.endpoint'() {
        return `http://127.0.0.1:${port}`;
      },
    },
  });

  test('token exchange and gateway calls are spans in the caller’s trace; upstream and audit name the same span', async () => {
    const agent = await h.registerAgent('agent-a');
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }] });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const ok = await task.fetch(`${h.resourceUri('api')}/v1/projects`, { headers: { traceparent: `00-${traceId}-${parent}-01` } });
    assert.equal(ok.status, 200);
    const upstreamSaw = String(h.upstream.requests.at(-1)?.headers.traceparent);
    const [, upTrace, upParent] = upstreamSaw.split('-');
    assert.equal(upTrace, traceId, 'the agent’s trace continues upstream');
    const denied = await task.fetch(`${h.resourceUri('api')}/v1/admin`, { headers: { traceparent: `00-${traceId}-${parent}-01` } });
    assert.equal(denied.status, 403);

    await h.writ.flushTraces();
    const call = await eventually(async () => spans.find((s) => s.spanId === upParent), 'the gateway span exported');
    assert.deepEqual([call.traceId, call.parentSpanId, call.name, call.kind], [traceId, parent, 'writ.gateway.http', 2]);
    assert.deepEqual(
      [attr(call, 'writ.decision'), attr(call, 'writ.reason'), Number(attr(call, 'http.response.status_code')), attr(call, 'writ.task_id')],
      ['allow', 'allowed', 200, task.id],
    );
    const refused = spans.find((s) => s.traceId === traceId && attr(s, 'writ.reason') === 'ERR_ACTION_NOT_AUTHORIZED');
    assert.ok(refused !== undefined, 'the refused call has its span');
    assert.equal(refused.status?.code, 2, 'status ERROR');
    const exchange = spans.find(
      (s) => s.name === 'writ.oauth.token' && attr(s, 'oauth.grant_type') === 'urn:ietf:params:oauth:grant-type:token-exchange',
    );
    assert.ok(exchange !== undefined, 'the token exchange has its span');
    assert.equal(Number(attr(exchange, 'http.response.status_code')), 200);
    assert.ok(JSON.stringify(resources).includes('"writ"'), 'service.name');

    await h.writ.flushAudit();
    const audited = await h.admin.get<Array<{ type: string; trace_id: string; span_id?: string }>>(`/audit?trace=${traceId}`);
    const intent = audited.find((e) => e.type === 'call.allowed');
    assert.deepEqual([intent?.trace_id, intent?.span_id], [traceId, call.spanId], 'the audit names the span');
  });
});
