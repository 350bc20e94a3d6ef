/**
 * Tool arguments in Cedar: how a tool's JSON Schema becomes the type of `context.arguments`, how a call's arguments
 * are read through it (anything that does not fit is refused, nothing undeclared gets through), and that every value
 * the reader accepts is one Cedar accepts under the schema the worker builds (request validation on), while the
 * worker refuses permits on a tool's action and actions of tools it has no schema for.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  argumentTypeOf,
  cedarArguments,
  createPolicyEngine,
  parseToolActionId,
  requestSubject,
  toolActionId,
  toolArgumentsRequest,
  type PolicyEngine,
  type ToolSchema,
} from '../../src/policy/index.js';

const SCHEMA = {
  type: 'object',
  properties: {
    amount: { type: 'integer' },
    fee: { type: 'number' },
    to: { type: 'string', enum: ['a', 'b'] },
    urgent: { type: 'boolean' },
    note: { type: ['string', 'null'] },
    tags: { type: 'array', items: { type: 'string' } },
    legs: { type: 'array', items: { type: 'object', properties: { hop: { type: 'integer' } }, required: ['hop'] } },
    meta: { type: 'object', properties: { source: { type: 'string' } } },
    either: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    ref: { $ref: '#/defs/x' },
    mixed: { type: ['string', 'integer'] },
    free: { type: 'array' },
    __entity: { type: 'string' },
  },
  required: ['amount', 'to', 'note', 'either'],
};

test('JSON Schema → argument type: what Cedar can state exactly, the rest left out', () => {
  const t = argumentTypeOf(SCHEMA);
  assert.deepEqual(Object.keys(t.attributes).sort(), ['amount', 'fee', 'legs', 'meta', 'note', 'tags', 'to', 'urgent']);
  assert.deepEqual(t.attributes['amount'], { type: { kind: 'Long' }, required: true });
  assert.deepEqual(t.attributes['fee'], { type: { kind: 'Decimal' }, required: false });
  assert.deepEqual(t.attributes['to'], { type: { kind: 'String' }, required: true });
  // Nullable: its type, but optional even when required.
  assert.deepEqual(t.attributes['note'], { type: { kind: 'String' }, required: false });
  assert.deepEqual(t.attributes['legs']?.type, {
    kind: 'Set',
    element: { kind: 'Record', attributes: { hop: { type: { kind: 'Long' }, required: true } } },
  });
  // A schema that is no object schema takes no arguments Cedar can see.
  for (const s of [undefined, null, 'x', [], { type: 'string' }]) assert.deepEqual(argumentTypeOf(s), { kind: 'Record', attributes: {} });
  // Nesting is bounded.
  let deep: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < 20; i++) deep = { type: 'object', properties: { d: deep } };
  let depth = 0;
  let cur: unknown = argumentTypeOf(deep);
  while ((cur as { attributes?: Record<string, { type: unknown }> }).attributes?.['d'] !== undefined) {
    cur = (cur as { attributes: Record<string, { type: unknown }> }).attributes['d']?.type;
    depth++;
  }
  assert.ok(depth <= 9, `depth ${depth}`);
});

test('arguments are read through the type: declared members only, each of its type, required ones present', () => {
  const t = argumentTypeOf(SCHEMA);
  const base = { amount: 5, to: 'a', either: 1 };
  assert.deepEqual(cedarArguments(t, base), { amount: 5, to: 'a' });
  assert.deepEqual(
    cedarArguments(t, { ...base, fee: 1.25, urgent: true, note: null, tags: ['x'], legs: [{ hop: 1, extra: 'dropped' }], meta: {} }),
    {
      amount: 5,
      to: 'a',
      fee: { __extn: { fn: 'decimal', arg: '1.25' } },
      urgent: true,
      tags: ['x'],
      legs: [{ hop: 1 }],
      meta: {},
    },
  );
  assert.deepEqual(cedarArguments(t, { ...base, fee: 3 }), { amount: 5, to: 'a', fee: { __extn: { fn: 'decimal', arg: '3.0' } } });
  // Undeclared members never get through, whatever their name.
  assert.deepEqual(cedarArguments(t, { ...base, __entity: { type: 'Writ::User', id: 'x' }, __extn: 1, other: 'y' }), {
    amount: 5,
    to: 'a',
  });
  for (const bad of [
    { ...base, amount: '5' },
    { ...base, amount: 1.5 },
    { ...base, amount: Number.MAX_SAFE_INTEGER + 1 },
    { ...base, amount: Number.NaN },
    { ...base, to: { __entity: { type: 'Writ::User', id: 'x' } } },
    { ...base, fee: 0.00001 },
    { ...base, fee: 1e20 },
    { ...base, fee: Number.POSITIVE_INFINITY },
    { ...base, fee: '1.5' },
    { ...base, urgent: 'true' },
    { ...base, tags: 'x' },
    { ...base, tags: ['x', 1] },
    { ...base, legs: [{}] },
    { ...base, meta: [] },
    { to: 'a' },
    [],
    'x',
    null,
  ])
    assert.equal(cedarArguments(t, bad), undefined, JSON.stringify(bad));
  // No arguments at all is an empty object: fine for a tool that requires none.
  assert.deepEqual(cedarArguments(argumentTypeOf({ type: 'object' }), undefined), {});
});

test('tool action ids: the first / ends the resource id', () => {
  assert.equal(toolActionId('pay', 'a/b'), 'mcp_tool:pay/a/b');
  assert.deepEqual(parseToolActionId('mcp_tool:pay/a/b'), { resourceId: 'pay', tool: 'a/b' });
  for (const bad of ['mcp_tool', 'mcp_tool:', 'mcp_tool:pay', 'mcp_tool:pay/', 'mcp_tool:/x', 'http'])
    assert.equal(parseToolActionId(bad), undefined);
});

describe_worker();

function describe_worker(): void {
  let engine: PolicyEngine;
  const tools: ToolSchema[] = [{ resourceId: 'pay', tool: 'transfer', inputSchema: SCHEMA }];
  before(() => {
    engine = createPolicyEngine();
  });
  after(() => engine.close());

  const subject = requestSubject({
    agent: { id: 'a1', name: 'a1', owner: 'o', kind: 'k', status: 'active' },
    userId: 'dev:alice',
    userClaims: {},
    resource: { id: 'pay', kind: 'mcp' },
    purpose: '',
    depth: 0,
  });

  test('the worker: every value the reader accepts is one Cedar accepts; a forbid over arguments decides', async () => {
    const forbid = `forbid (principal, action == Writ::Action::"mcp_tool:pay/transfer", resource) unless {
      context.arguments.amount <= 10 && (if context.arguments has fee then context.arguments.fee.lessThanOrEqual(decimal("2.0")) else true)
    };`;
    const v = await engine.validate(forbid, tools);
    assert.deepEqual(v, { ok: true, policyCount: 1 });
    await engine.load([{ id: 'g', text: forbid }], tools);
    const type = engine.toolArguments('pay', 'transfer');
    assert.ok(type !== undefined && type !== null);
    assert.equal(engine.toolArguments('pay', 'other'), undefined);
    const ask = async (args: unknown): Promise<{ decision: string; reasons: string[]; errors: string[] }> => {
      const value = cedarArguments(type, args);
      assert.ok(value !== undefined, JSON.stringify(args));
      const [d] = await engine.authorize([toolArgumentsRequest(subject, 'transfer', value)]);
      assert.ok(d !== undefined);
      return d;
    };
    const full = {
      amount: 10,
      to: 'b',
      either: 'x',
      fee: 2,
      urgent: false,
      note: 'n',
      tags: [],
      legs: [{ hop: -3 }],
      meta: { source: 's' },
    };
    // Nothing permits on a tool's own action: "deny" with no determining policy is the answer that lets a call by.
    assert.deepEqual(await ask(full), { decision: 'deny', reasons: [], errors: [] });
    assert.deepEqual(await ask({ amount: -9_007_199_254_740_991, to: 'a', either: 1, fee: -922337203685477 }), {
      decision: 'deny',
      reasons: [],
      errors: [],
    });
    assert.deepEqual(await ask({ ...full, amount: 11 }), { decision: 'deny', reasons: ['g.0'], errors: [] });
    assert.deepEqual(await ask({ ...full, fee: 2.0001 }), { decision: 'deny', reasons: ['g.0'], errors: [] });
  });

  test('the worker refuses a permit on a tool action, and a tool action without a schema', async () => {
    const permit = await engine.validate(
      `permit (principal, action == Writ::Action::"mcp_tool:pay/transfer", resource) when { context.arguments.amount < 5 };`,
      tools,
    );
    assert.equal(permit.ok, false);
    assert.match(permit.ok ? '' : permit.errors.join(), /narrow/);
    const unknown = await engine.validate(`forbid (principal, action == Writ::Action::"mcp_tool:pay/transfer", resource);`, []);
    assert.match(unknown.ok ? '' : unknown.errors.join(), /no input schema is known/);
    assert.deepEqual(
      await engine.toolActions(
        `forbid (principal, action in [Writ::Action::"mcp_tool:pay/transfer", Writ::Action::"mcp_tool:pay/x/y"], resource);`,
      ),
      [
        { resourceId: 'pay', tool: 'transfer' },
        { resourceId: 'pay', tool: 'x/y' },
      ],
    );
    // A loaded grant naming a tool whose schema is not recorded: the tool cannot be decided (null), never ungoverned.
    await engine.load([{ id: 'g', text: `forbid (principal, action == Writ::Action::"mcp_tool:pay/gone", resource);` }], tools);
    assert.equal(engine.toolArguments('pay', 'gone'), null);
  });
}
