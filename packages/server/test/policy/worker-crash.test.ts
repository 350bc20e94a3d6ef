/**
 * The worker dies: whatever was pending is rejected (callers deny), the engine restarts it once, reloads the active
 * policy set, and only then answers — with the same decisions as before the crash.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createCallDecisionCache,
  createPolicyEngine,
  PolicyEngineError,
  type Decision,
  type PolicyEngine,
} from '../../src/policy/index.js';
import { DEMO_GRANT, request } from './fixtures/requests.js';

const CRASHING_WORKER = new URL('./fixtures/crashing-worker.js', import.meta.url);
const GRANTS = [
  { id: 'demo-read', text: DEMO_GRANT },
  { id: 'guard', text: 'forbid (principal, action, resource) when { context.path like "/v1/projects/*/admin*" };' },
];
const probes = [request(), request({ path: '/v1/projects/1/admin' }), request({ method: 'DELETE' }), request({ agent: 'test-other' })];
const EXPECTED: Decision[] = [
  { decision: 'allow', reasons: ['demo-read.0'], errors: [] },
  { decision: 'deny', reasons: ['guard.0'], errors: [] },
  { decision: 'deny', reasons: [], errors: [] },
  { decision: 'deny', reasons: [], errors: [] },
];

async function withEngine(run: (engine: PolicyEngine) => Promise<void>): Promise<void> {
  const engine = createPolicyEngine({ workerUrl: CRASHING_WORKER });
  try {
    await run(engine);
  } finally {
    await engine.close();
  }
}

const stopped = (err: unknown): boolean => err instanceof PolicyEngineError && /^policy worker stopped/.test(err.message);

test('crashForTest with requests pending: they reject, the worker restarts once and answers with the loaded policies', () =>
  withEngine(async (engine) => {
    const version = await engine.load(GRANTS);
    assert.deepEqual(await engine.authorize(probes), EXPECTED);
    assert.equal(engine.restarts, 0);

    // The blocker is first in the worker's queue and never answers, so everything after it is pending.
    const pending = [engine.authorize([request({ agent: 'test-block' })]), engine.authorize(probes), engine.authorize([request()])];
    const validating = engine.validate(DEMO_GRANT);
    await engine.crashForTest();
    const settled = await Promise.allSettled([...pending, validating]);
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      assert.ok(stopped(s.reason), String(s.reason));
    }

    assert.equal(engine.restarts, 1);
    assert.equal(engine.version, version, 'a crash does not change the policy set');
    assert.deepEqual(await engine.authorize(probes), EXPECTED, 'the restarted worker has the same policies');
    assert.deepEqual(await engine.validate(DEMO_GRANT), { ok: true, policyCount: 1 });
    assert.equal(engine.restarts, 1);
  }));

test('a worker that throws (error, then exit) is restarted exactly once', () =>
  withEngine(async (engine) => {
    await engine.load(GRANTS);
    await assert.rejects(
      engine.authorize([request({ agent: 'test-throw' })]),
      (err: unknown) => stopped(err) && /on purpose/.test(String(err)),
    );
    // Asked right away: answered by the new worker, after the policy set is back in it.
    assert.deepEqual(await engine.authorize(probes), EXPECTED);
    assert.equal(engine.restarts, 1);
    // And it keeps working across a second crash.
    await assert.rejects(engine.authorize([request({ agent: 'test-throw' })]), stopped);
    assert.deepEqual(await engine.authorize(probes), EXPECTED);
    assert.equal(engine.restarts, 2);
  }));

test('the call-decision cache denies (does not throw) while the worker is down, and caches nothing from it', () =>
  withEngine(async (engine) => {
    await engine.load(GRANTS);
    const cache = createCallDecisionCache(engine);
    const blocked = cache.decide(request({ agent: 'test-block' }), '1');
    const answer = cache.decide(request(), '1');
    assert.ok(answer instanceof Promise, 'a miss asks the worker');
    await engine.crashForTest();
    const d = await answer;
    assert.equal(d.decision, 'deny');
    assert.match(d.errors.join(), /policy engine: policy worker stopped/);
    assert.equal((await blocked).decision, 'deny');
    assert.equal(cache.stats().size, 0);
    // After the restart the same request is evaluated again, and allowed.
    assert.deepEqual(await cache.decide(request(), '1'), EXPECTED[0]);
  }));

test('close rejects what is pending and refuses new work', async () => {
  const engine = createPolicyEngine({ workerUrl: CRASHING_WORKER });
  await engine.load(GRANTS);
  const pending = engine.authorize([request({ agent: 'test-block' })]);
  const rejected = assert.rejects(pending, /policy engine closed/);
  // Let authorize get past its first await, so the request is in the worker's hands (not a wait for time).
  await new Promise(setImmediate);
  await engine.close();
  await rejected;
  await assert.rejects(engine.authorize(probes), /policy engine closed/);
  assert.equal(engine.restarts, 0, 'closing is not a crash');
});
