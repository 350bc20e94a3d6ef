/**
 * Decisions as Cedar makes them: permit, forbid over permit, default deny, and fail closed on evaluation errors.
 * Reasons name the deciding policies as `<grant id>.<n>`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPolicyEngine, PolicyEngineError, type PolicyEngine } from '../../src/policy/index.js';
import { DEMO_GRANT, request } from './fixtures/requests.js';

let engine: PolicyEngine;
before(() => {
  engine = createPolicyEngine();
});
after(() => engine.close());

const NO_ADMIN = 'forbid (principal, action == Writ::Action::"http", resource) when { context.path like "/v1/projects/*/admin*" };';

test('nothing loaded: everything is denied', async () => {
  assert.equal(engine.version, 0);
  assert.deepEqual(await engine.authorize([request()]), [{ decision: 'deny', reasons: [], errors: [] }]);
  assert.deepEqual(await engine.authorize([]), []);
});

test('permit, forbid overriding permit, default deny; reasons name <grant>.<n>', async () => {
  const v = await engine.load([
    { id: 'demo-read', text: DEMO_GRANT },
    { id: 'guard', text: `permit (principal, action, resource) when { context.purpose == "ops" };\n${NO_ADMIN}` },
  ]);
  assert.equal(v, engine.version);
  const [allow, both, forbidden, wrongMethod, wrongUser, wrongAgent, wrongResource, unmatchedPath] = await engine.authorize([
    request(),
    request({ purpose: 'ops' }),
    request({ path: '/v1/projects/7/admin/users' }),
    request({ method: 'DELETE' }),
    request({ user: 'dev:bob' }),
    request({ agent: 'other-agent' }),
    request({ resource: 'other-api' }),
    request({ path: '/v1/projectsX' }),
  ]);
  assert.deepEqual(allow, { decision: 'allow', reasons: ['demo-read.0'], errors: [] });
  assert.deepEqual(
    { ...both, reasons: [...(both?.reasons ?? [])].sort() },
    { decision: 'allow', reasons: ['demo-read.0', 'guard.0'], errors: [] },
  );
  // The demo grant permits this path, the forbid (second policy of grant "guard") overrides it.
  assert.deepEqual(forbidden, { decision: 'deny', reasons: ['guard.1'], errors: [] });
  for (const d of [wrongMethod, wrongUser, wrongAgent, wrongResource, unmatchedPath])
    assert.deepEqual(d, { decision: 'deny', reasons: [], errors: [] });
});

test('an evaluation error denies, with the error, even when another policy permits', async () => {
  await engine.load([
    { id: 'all', text: 'permit (principal, action, resource);' },
    // Validates, but overflows at run time for any depth > 0.
    {
      id: 'overflow',
      text: 'forbid (principal, action == Writ::Action::"http", resource) when { context.depth + 9223372036854775807 < 0 };',
    },
  ]);
  const [fine, broken] = await engine.authorize([request({ depth: 0 }), request({ depth: 3 })]);
  assert.deepEqual(fine, { decision: 'allow', reasons: ['all.0'], errors: [] });
  assert.equal(broken?.decision, 'deny');
  assert.equal(broken?.errors.length, 1);
  assert.match(broken?.errors[0] ?? '', /^overflow\.0: .*overflow/);

  // A grant that was never validated and reads an attribute that does not exist: error, deny.
  await engine.load([
    { id: 'all', text: 'permit (principal, action, resource);' },
    { id: 'typo', text: 'permit (principal, action, resource) when { principal.nmae == "x" };' },
  ]);
  const [d] = await engine.authorize([request()]);
  assert.equal(d?.decision, 'deny');
  assert.match(d?.errors.join('\n') ?? '', /^typo\.0: .*nmae/);
});

test('a request that does not fit the schema is denied with the error', async () => {
  await engine.load([{ id: 'all', text: 'permit (principal, action, resource);' }]);
  const bad = request();
  bad.context['depth'] = 'deep';
  const [d] = await engine.authorize([bad]);
  assert.equal(d?.decision, 'deny');
  assert.ok((d?.errors.length ?? 0) > 0, 'the schema error is reported');
});

test('a grant that does not parse fails the load and leaves a deny-all set, never the previous one', async () => {
  const before = await engine.load([{ id: 'all', text: 'permit (principal, action, resource);' }]);
  assert.equal((await engine.authorize([request()]))[0]?.decision, 'allow');
  await assert.rejects(
    engine.load([
      { id: 'ok', text: 'permit (principal, action, resource);' },
      { id: 'broken', text: 'forbid (principal, action, resource' },
    ]),
    (err: unknown) => err instanceof PolicyEngineError && /grant broken does not parse: .*\(line 1, column \d+\)/.test(err.message),
  );
  assert.ok(engine.version > before, 'a failed load still moves the version, so no cached decision survives it');
  assert.deepEqual(engine.contextUse, { all: true });
  assert.deepEqual(await engine.authorize([request()]), [{ decision: 'deny', reasons: [], errors: [] }]);
});

test('contextUse follows the loaded set', async () => {
  await engine.load([{ id: 'demo', text: DEMO_GRANT }]);
  assert.deepEqual(engine.contextUse, { all: false, attributes: ['method', 'path', 'user'] });
  await engine.load([{ id: 'n', text: 'permit (principal, action, resource) when { principal.status == "active" };' }]);
  assert.deepEqual(engine.contextUse, { all: false, attributes: [] });
  await engine.load([{ id: 'w', text: 'permit (principal, action, resource) when { context == context };' }]);
  assert.deepEqual(engine.contextUse, { all: true });
});
