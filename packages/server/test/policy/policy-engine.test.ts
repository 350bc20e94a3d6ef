/**
 * The policy engine (Cedar in a worker thread) and the call-decision cache. The differential test is what licenses
 * the cache: thousands of random requests, policy reloads and register changes in between, and every cached answer
 * equals a full Cedar evaluation of the same request.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contextUseOf, createCallDecisionCache, createPolicyEngine, httpRequest, type PolicyEngine } from '../../src/policy/index.js';

let engine: PolicyEngine;
before(() => {
  engine = createPolicyEngine();
});
after(async () => {
  await engine.close();
});

const GRANT = `permit (principal == Writ::Agent::"a1", action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && ["GET", "HEAD"].contains(context.method) && context.path like "/v1/projects*" };`;

function req(
  o: { agent?: string; user?: string; resource?: string; method?: string; path?: string; purpose?: string; depth?: number } = {},
): ReturnType<typeof httpRequest> {
  const [idp, sub] = (o.user ?? 'dev:alice').split(':') as [string, string];
  return httpRequest({
    agent: { id: o.agent ?? 'a1', name: 'A', owner: 'team', kind: 'agent', status: 'active' },
    user: { idp, sub },
    resource: { id: o.resource ?? 'api', kind: 'http', name: o.resource ?? 'api' },
    method: o.method ?? 'GET',
    path: o.path ?? '/v1/projects',
    purpose: o.purpose ?? '',
    depth: o.depth ?? 0,
  });
}

test('validation accepts a real grant and names what is wrong with bad ones', async () => {
  assert.deepEqual(await engine.validate(GRANT), { ok: true, policyCount: 1 });
  const cases: Array<[string, RegExp]> = [
    ['permit (principal == Writ::Agnet::"a", action, resource);', /Agnet/],
    ['permit (principal, action == Writ::Action::"http", resource) when { context.pathh == "/" };', /pathh/],
    ['permit (principal, action == Writ::Action::"http", resource) when { context.depth == "1" };', /type|Long|String/i],
    ['permit (principal, action, resource) when { context.path like };', /line 1/],
    ['', /no policy/],
  ];
  for (const [text, expected] of cases) {
    const r = await engine.validate(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.errors.join('\n'), expected, text);
  }
});

test('decisions: permit, forbid over permit, default deny; reasons name the grant', async () => {
  await engine.load([
    { id: 'read', text: GRANT },
    { id: 'no-secrets', text: 'forbid (principal, action, resource) when { context.path like "*secret*" };' },
  ]);
  const [allow, forbidden, other, wrongUser] = await engine.authorize([
    req(),
    req({ path: '/v1/projects/secret' }),
    req({ method: 'DELETE' }),
    req({ user: 'dev:bob' }),
  ]);
  assert.equal(allow?.decision, 'allow');
  assert.deepEqual(allow?.reasons, ['read.0']);
  assert.equal(forbidden?.decision, 'deny');
  assert.deepEqual(forbidden?.reasons, ['no-secrets.0']);
  assert.equal(other?.decision, 'deny');
  assert.equal(wrongUser?.decision, 'deny');
});

test('a request that does not fit the schema is denied with the error, never allowed', async () => {
  await engine.load([{ id: 'all', text: 'permit (principal, action, resource);' }]);
  const bad = req();
  (bad.context as Record<string, unknown>)['depth'] = 'deep';
  const [d] = await engine.authorize([bad]);
  assert.equal(d?.decision, 'deny');
  assert.ok((d?.errors.length ?? 0) > 0);
});

test('a crashed worker rejects what was pending, restarts, and answers with the same policies', async () => {
  await engine.load([{ id: 'read', text: GRANT }]);
  const pending = engine.authorize([req()]);
  const crash = engine.crashForTest();
  await assert.rejects(pending, /policy worker stopped|policy engine/);
  await crash;
  const [d] = await engine.authorize([req()]);
  assert.equal(d?.decision, 'allow');
  assert.ok(engine.restarts >= 1);
});

test('contextUseOf finds exactly the attributes a policy set can read', () => {
  const j = (conditions: unknown[]): unknown => ({ conditions });
  const path = { '.': { left: { Var: 'context' }, attr: 'path' } };
  const has = { has: { left: { Var: 'context' }, attr: 'purpose' } };
  const nested = { '.': { left: { '.': { left: { Var: 'context' }, attr: 'user' } }, attr: 'email' } };
  assert.deepEqual(contextUseOf([j([{ kind: 'when', body: path }])]), { all: false, attributes: ['path'] });
  assert.deepEqual(contextUseOf([j([{ kind: 'when', body: has }]), j([{ kind: 'when', body: nested }])]), {
    all: false,
    attributes: ['purpose', 'user'],
  });
  assert.deepEqual(contextUseOf([j([{ kind: 'when', body: { '==': { left: { Var: 'context' }, right: { Record: {} } } } }])]), {
    all: true,
  });
  assert.deepEqual(contextUseOf([j([])]), { all: false, attributes: [] });
});

test('differential: the call-decision cache decides exactly as a full Cedar evaluation', async () => {
  const sets: Array<Array<{ id: string; text: string }>> = [
    [{ id: 'g', text: GRANT }],
    [{ id: 'm', text: 'permit (principal, action == Writ::Action::"http", resource) when { context.method == "GET" };' }],
    [
      {
        id: 'n',
        text: 'permit (principal, action, resource == Writ::Resource::"api") when { [Writ::Agent::"a1", Writ::Agent::"a2"].contains(principal) };',
      },
    ],
    [
      {
        id: 'p',
        text: 'permit (principal, action == Writ::Action::"http", resource) when { context has purpose && context.purpose == "ops" && context.depth < 2 };',
      },
      { id: 'f', text: 'forbid (principal == Writ::Agent::"a2", action, resource) when { context.path like "/admin*" };' },
    ],
    [
      {
        id: 'w',
        text: 'permit (principal, action == Writ::Action::"http", resource) when { context == { user: Writ::User::"dev:alice", method: "GET", path: "/", purpose: "", depth: 0 } };',
      },
    ],
  ];
  const agents = ['a1', 'a2', 'a3'];
  const users = ['dev:alice', 'dev:bob'];
  const resources = ['api', 'other'];
  const methods = ['GET', 'HEAD', 'POST', 'DELETE'];
  const paths = ['/', '/v1/projects', '/v1/projects/1', '/admin', '/admin/users', '/v1/projectsX'];
  const purposes = ['', 'ops'];
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pick = <T>(xs: T[]): T => xs[rand(xs.length)] as T;
  const cache = createCallDecisionCache(engine, { maxEntries: 500 });
  let entities = 1;
  let compared = 0;
  for (let round = 0; round < 12; round++) {
    await engine.load(sets[round % sets.length] as Array<{ id: string; text: string }>);
    if (round % 3 === 2) entities++;
    for (let i = 0; i < 250; i++) {
      const r = req({
        agent: pick(agents),
        user: pick(users),
        resource: pick(resources),
        method: pick(methods),
        path: pick(paths),
        purpose: pick(purposes),
        depth: rand(3),
      });
      const viaCache = await cache.decide(r, String(entities));
      const [full] = await engine.authorize([r]);
      assert.deepEqual(
        { decision: viaCache.decision, reasons: [...viaCache.reasons].sort() },
        { decision: full?.decision, reasons: [...(full?.reasons ?? [])].sort() },
        JSON.stringify({ round, r: r.context, p: r.principal }),
      );
      compared++;
    }
  }
  const stats = cache.stats();
  assert.equal(compared, 3000);
  assert.ok(stats.hits > 500, `the cache must actually serve answers (hits ${stats.hits})`);
  assert.ok(stats.misses > 50);
});

test('cedar-wasm is never loaded in the main thread', () => {
  // A child process uses the engine, then lists every module its main thread loaded: cedar-wasm must not be one.
  const policyIndex = fileURLToPath(new URL('../../src/policy/index.js', import.meta.url));
  const script = `
    const { createPolicyEngine, httpRequest } = await import(${JSON.stringify(policyIndex)});
    const engine = createPolicyEngine();
    await engine.load([{ id: 'g', text: 'permit (principal, action, resource);' }]);
    await engine.authorize([httpRequest({ agent: { id: 'a', name: 'a', owner: 'o', kind: 'agent', status: 'active' }, user: { idp: 'dev', sub: 'x' }, resource: { id: 'r', kind: 'http', name: 'r' }, method: 'GET', path: '/', purpose: '', depth: 0 })]);
    const { createRequire } = await import('node:module');
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ cjs: loaded.filter((m) => m.includes('cedar')) }));
    await engine.close();
  `;
  const dir = mkdtempSync(join(tmpdir(), 'writ-cedar-'));
  const file = join(dir, 'probe.mjs');
  writeFileSync(file, script);
  const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  const { cjs } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { cjs: string[] };
  assert.deepEqual(cjs, [], 'cedar-wasm (CommonJS) must only be loaded inside the worker');
});
