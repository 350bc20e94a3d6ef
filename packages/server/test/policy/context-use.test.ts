/**
 * contextUseOf: which context attributes a policy set can read. Unit table over Cedar's JSON policy form (shapes
 * as cedar-wasm 4's policyToJson emits them), then the same question asked of real policy text through the worker.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { contextUseOf, createPolicyEngine, type ContextUse, type PolicyEngine } from '../../src/policy/index.js';

const CTX = { Var: 'context' };
const dot = (left: unknown, attr: string): unknown => ({ '.': { left, attr } });
const has = (left: unknown, attr: unknown): unknown => ({ has: { left, attr } });
const eq = (left: unknown, right: unknown): unknown => ({ '==': { left, right } });
const and = (left: unknown, right: unknown): unknown => ({ '&&': { left, right } });
const when = (body: unknown): unknown => ({
  effect: 'permit',
  principal: { op: 'All' },
  action: { op: 'All' },
  resource: { op: 'All' },
  conditions: [{ kind: 'when', body }],
});
const v = (x: unknown): unknown => ({ Value: x });
const some = (...attributes: string[]): ContextUse => ({ all: false, attributes });
const ALL: ContextUse = { all: true };

test('contextUseOf table', () => {
  const cases: Array<[string, unknown[], ContextUse]> = [
    ['no policies', [], some()],
    [
      'no conditions',
      [{ effect: 'permit', principal: { op: 'All' }, action: { op: 'All' }, resource: { op: 'All' }, conditions: [] }],
      some(),
    ],
    [
      'principal and resource attributes only',
      [when(and(eq(dot({ Var: 'principal' }, 'status'), v('active')), eq(dot({ Var: 'resource' }, 'kind'), v('http'))))],
      some(),
    ],
    ['context.path', [when(eq(dot(CTX, 'path'), v('/')))], some('path')],
    [
      'context.path like',
      [when({ like: { left: dot(CTX, 'path'), pattern: [{ Literal: '/' }, { Literal: 'v' }, 'Wildcard'] } })],
      some('path'),
    ],
    ['context has purpose', [when(has(CTX, 'purpose'))], some('purpose')],
    ['context has user.email (attr as a path)', [when(has(CTX, ['user', 'email']))], some('user')],
    ['nested context.user.email', [when(eq(dot(dot(CTX, 'user'), 'email'), v('a@example.com')))], some('user')],
    ['context.user has email', [when(has(dot(CTX, 'user'), 'email'))], some('user')],
    [
      'several reads, several policies: union, sorted, no duplicates',
      [when(and(eq(dot(CTX, 'path'), v('/')), eq(dot(CTX, 'method'), v('GET')))), when(and(has(CTX, 'path'), eq(dot(CTX, 'depth'), v(1))))],
      some('depth', 'method', 'path'),
    ],
    ['whole context compared', [when(eq(CTX, { Record: { path: v('/') } }))], ALL],
    ['whole context inside a record', [when(has(dot({ Record: { x: CTX } }, 'x'), 'path'))], ALL],
    ['whole context in a set', [when({ contains: { left: { Set: [CTX] }, right: CTX } })], ALL],
    ['context as an argument', [when({ isEmpty: { arg: CTX } })], ALL],
    ['has with an attr it cannot read', [when(has(CTX, { Var: 'principal' }))], ALL],
    ['one whole use among precise ones', [when(eq(dot(CTX, 'path'), v('/'))), when(eq(CTX, CTX))], ALL],
    ['the fallback for a policy with no JSON form', [{ conditions: [CTX] }], ALL],
    ['a bare expression (no policy wrapper)', [dot(CTX, 'method')], some('method')],
    ['a record literal shaped like an accessor is not one', [when({ Record: { has: { Record: { left: CTX, attr: v('x') } } } })], ALL],
    [
      'unless conditions count too',
      [{ ...(when(v(true)) as object), conditions: [{ kind: 'unless', body: eq(dot(CTX, 'depth'), v(0)) }] }],
      some('depth'),
    ],
  ];
  for (const [name, policies, expected] of cases) assert.deepEqual(contextUseOf(policies), expected, name);
});

let engine: PolicyEngine;
before(() => {
  engine = createPolicyEngine();
});
after(() => engine.close());

test('contextUse of real policy text (through the worker and Cedar JSON)', async () => {
  const cases: Array<[string, ContextUse]> = [
    ['permit (principal, action, resource);', some()],
    ['permit (principal, action, resource) when { principal.status == "active" && resource.kind == "http" };', some()],
    ['permit (principal, action, resource) when { context.path like "/v1/*" };', some('path')],
    ['permit (principal, action, resource) when { context["method"] == "GET" };', some('method')],
    ['permit (principal, action, resource) when { context has purpose && context.purpose == "ops" };', some('purpose')],
    ['permit (principal, action, resource) when { context has user.email };', some('user')],
    ['permit (principal, action, resource) when { context.user.email like "*@example.com" };', some('user')],
    ['permit (principal, action, resource) unless { context.depth > 1 };', some('depth')],
    ['permit (principal, action, resource) when { context == { depth: 0 } };', ALL],
    ['permit (principal, action, resource) when { { c: context }.c.depth == 0 };', ALL],
    ['permit (principal, action, resource) when { [context].contains({ depth: 0 }) };', ALL],
    [
      'permit (principal, action, resource) when { context.path == "/" };\nforbid (principal, action, resource) when { context.method == "DELETE" };',
      some('method', 'path'),
    ],
  ];
  for (const [text, expected] of cases) {
    await engine.load([{ id: 'g', text }]);
    assert.deepEqual(engine.contextUse, expected, text);
  }
});
