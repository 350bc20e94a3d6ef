/**
 * `writ audit export --format ocsf`: every stored event, of every kind a run produces (issuance, a forwarded call and
 * its outcome, refusals with and without a caller, revocations, admin changes, a task's end), exported as an OCSF
 * 1.3.0 event that validates against the schema of its class, one for one, in chain order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness } from '../helpers/writ-harness.js';
import { rawRequest } from '../helpers/raw-request.js';
import { OCSF_1_3_0_SCHEMAS } from './ocsf-1.3.0.js';
import { toOcsf } from '../../src/audit/index.js';

interface Ocsf {
  class_uid: number;
  activity_id: number;
  type_uid: number;
  status_id: number;
  metadata: { uid: string; sequence: number; correlation_uid: string; version: string; product: { name: string } };
  api?: { operation: string; request: { uid: string }; response?: { code: number } };
  unmapped: { writ: { type: string } };
}

/** The OCSF 1.3.0 Authentication (3002) schema, compiled. */
function authenticationSchema(): { validate: ReturnType<Ajv['compile']>; errors: () => string } {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const validate = ajv.compile(OCSF_1_3_0_SCHEMAS[3002] as object);
  return { validate, errors: () => ajv.errorsText(validate.errors) };
}

/** A stored sign-in event of `type`, as the export reads it. */
function signInEvent(type: string, decision: 'allow' | 'deny', reason: string, who: Record<string, unknown>): ReturnType<typeof toOcsf> {
  return toOcsf(
    {
      seq: 1,
      event: {
        id: '01900000-0000-7000-8000-000000000000',
        time: 1_790_000_000_000,
        type,
        trace_id: '0af7651916cd43dd8448eb211c80319c',
        decision,
        reason,
        ...who,
        data: { source: '127.0.0.1' },
      },
    },
    { productVersion: '0.1.0' },
  );
}

describeEachStore('audit export as OCSF', (kind) => {
  const h = useHarness(kind);

  test('every event a run leaves validates against its OCSF 1.3.0 class, one for one, in chain order', async () => {
    const agent = await h.registerAgent('agent-a');
    const task = await h.startTask(agent, { details: [{ type: 'http', actions: ['GET'], paths: ['/v1/projects'] }] });
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
    assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/secrets`)).status, 403);
    assert.equal((await rawRequest(h.writ.url, { method: 'GET', path: '/r/api/v1/projects', headers: [] })).status, 401);
    await h.admin.post(`/tasks/${task.id}/revoke`, { reason: 'ocsf test' });
    await h.admin.post('/revocations', { target: { type: 'user', userId: 'dev:mallory' }, reason: 'ocsf test' });
    await h.writ.flushAudit();

    const stored = await h.admin.get<Array<{ seq: number; id: string; type: string; trace_id: string }>>('/audit/export?limit=5000');
    const ocsf = await h.admin.get<Ocsf[]>('/audit/export?format=ocsf&limit=5000');
    assert.equal(ocsf.length, stored.length, 'one OCSF event per stored event');

    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validators = new Map(Object.entries(OCSF_1_3_0_SCHEMAS).map(([uid, schema]) => [Number(uid), ajv.compile(schema)]));
    const classes = new Set<number>();
    ocsf.forEach((event, i) => {
      const row = stored[i];
      assert.ok(row !== undefined);
      const validate = validators.get(event.class_uid);
      assert.ok(validate !== undefined, `${row.type} mapped to an unexpected class ${event.class_uid}`);
      assert.ok(validate(event), `${row.type} (seq ${row.seq}): ${ajv.errorsText(validate.errors)}\n${JSON.stringify(event)}`);
      assert.equal(event.type_uid, event.class_uid * 100 + event.activity_id);
      assert.deepEqual(
        [event.metadata.uid, event.metadata.sequence, event.metadata.correlation_uid, event.unmapped.writ.type],
        [row.id, row.seq, row.trace_id, row.type],
      );
      classes.add(event.class_uid);
    });
    assert.deepEqual([...classes].sort(), [3003, 3004, 6003], 'authorization, entity management and API activity all seen');

    // The forwarded call: its write-ahead record and its outcome are one API request, a successful read.
    const read = ocsf.filter((e) => e.class_uid === 6003 && e.api?.operation === 'GET /v1/projects' && e.status_id === 1);
    assert.equal(read.length, 2);
    assert.equal(read[0]?.api?.request.uid, read[1]?.api?.request.uid);
    assert.deepEqual([read[0]?.activity_id, read[1]?.api?.response?.code], [2, 200]);
    // The refusal is a failure.
    assert.ok(ocsf.some((e) => e.class_uid === 6003 && e.api?.operation === 'GET /v1/secrets' && e.status_id === 2));
  });

  test("the authorization server's sign-ins and their refusals are OCSF Authentication events", () => {
    const { validate, errors } = authenticationSchema();
    for (const [type, decision] of [
      ['authorization.signed_in', 'allow'],
      ['authorization.denied', 'deny'],
    ] as const) {
      const event = signInEvent(type, decision, decision === 'allow' ? 'signed_in' : 'access_denied', { user_id: 'corp:carol' });
      assert.ok(validate(event), `${type}: ${errors()}`);
      assert.equal(event.class_uid, 3002);
    }
  });

  test("the console's sign-ins, refusals and sign-outs are OCSF Authentication events: logon or logoff", () => {
    const { validate, errors } = authenticationSchema();
    for (const [type, decision, reason, who, activity] of [
      ['console.signed_in', 'allow', 'identity_provider', { user_id: 'corp:dana' }, 1],
      ['console.signed_in', 'allow', 'admin_token_link', { actor_chain: ['admin:ops'] }, 1],
      ['console.denied', 'deny', 'no_console_role', { user_id: 'corp:eve' }, 1],
      ['console.denied', 'deny', 'link_invalid', {}, 1],
      ['console.signed_out', 'allow', 'signed_out', { user_id: 'corp:dana' }, 2],
    ] as const) {
      const event = signInEvent(type, decision, reason, 'actor_chain' in who ? { actor_chain: [...who.actor_chain] } : who);
      assert.ok(validate(event), `${type} ${reason}: ${errors()}`);
      assert.deepEqual([event.class_uid, event.activity_id], [3002, activity], `${type} ${reason}`);
    }
  });
});
