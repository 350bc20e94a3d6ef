/**
 * Budget counters in Redis (`WRIT_REDIS_URL`), against a real Redis: a take is all or none, no counter passes its cap
 * however many clients race it, units are given back, every counter expires by itself; and a Writ node counting in
 * Redis refuses the call past a task's budget. Runs when WRIT_TEST_REDIS_URL is set (`.ci/run` sets it); otherwise
 * it says loudly that it was skipped.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { WritError, type TaskAuthorizationDetail } from '@writ/protocol';
import { CallBudgets, RedisCounters, type CounterTake } from '../../src/budgets/index.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { startHarness, type Harness } from '../helpers/writ-harness.js';

const REDIS_URL = process.env['WRIT_TEST_REDIS_URL'];
const skip = REDIS_URL === undefined ? 'WRIT_TEST_REDIS_URL not set: the Redis budget counters suite is SKIPPED' : false;
if (skip !== false) console.log(`!!! ${skip}`);

const BUDGETED = `@budget("calls=2")
permit (principal == Writ::Agent::"agent-a", action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && context.path like "/v1/*" };`;
const READ: TaskAuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }];

describe('budget counters in Redis', { skip }, () => {
  const prefix = `writ:test:${randomBytes(6).toString('hex')}:`;
  const noError = (err: Error): void => assert.fail(`redis: ${err.message}`);
  let a: RedisCounters;
  let b: RedisCounters;
  before(async () => {
    a = await RedisCounters.connect(REDIS_URL as string, { prefix, onError: noError });
    b = await RedisCounters.connect(REDIS_URL as string, { prefix, onError: noError });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    const raw = createClient({ url: REDIS_URL as string });
    await raw.connect();
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(keys);
    await raw.close();
  });

  const take = (key: string, cap: number): CounterTake => ({ key, cap, windowStart: 0, expiresAt: Date.now() + 60_000 });

  test('never past the cap, however many takes race from two clients', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).take([take('race', 37)])));
    assert.equal(results.filter((r) => r.ok).length, 37);
  });

  test('all or none: a take refused by one counter leaves the others untouched; given back, a unit is free again', async () => {
    assert.equal((await a.take([take('one', 1)])).ok, true);
    const refused = await a.take([take('other', 5), take('one', 1)]);
    assert.deepEqual(refused, { ok: false, refused: 1 });
    // `other` was not counted by the refused take: five more fit.
    for (let i = 0; i < 5; i++) assert.equal((await b.take([take('other', 5)])).ok, true);
    assert.equal((await b.take([take('other', 5)])).ok, false);
    const got = await a.take([take('back', 1)]);
    assert.ok(got.ok);
    await got.taken.giveBack();
    assert.equal((await a.take([take('back', 1)])).ok, true);
  });

  test('every counter expires by itself', async () => {
    const at = Date.now() + 30_000;
    assert.equal((await a.take([{ key: 'ttl', cap: 5, windowStart: 7, expiresAt: at }])).ok, true);
    const raw = createClient({ url: REDIS_URL as string });
    await raw.connect();
    const ttl = await raw.pExpireTime(`${prefix}ttl:7`);
    await raw.close();
    assert.equal(ttl, at);
  });

  test('counters that cannot answer refuse the call (503 ERR_NOT_READY), never let it through uncounted', async () => {
    const gone = await RedisCounters.connect(REDIS_URL as string, { prefix, onError: () => undefined });
    await gone.close();
    const budgets = new CallBudgets({ counters: gone, now: Date.now });
    const call = {
      taskId: 'task_x',
      agentId: 'agent-a',
      userId: 'dev:alice',
      tokenExpiresAt: Date.now() + 60_000,
      budget: { type: 'writ_budget' as const, calls: 5 },
      rule: null,
      action: 'GET /v1/x',
    };
    await assert.rejects(
      budgets.take(call),
      (err: unknown) => err instanceof WritError && err.code === 'ERR_NOT_READY' && err.status === 503,
    );
  });

  describe('a Writ node counting in Redis', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness(STORE_KINDS[0] as (typeof STORE_KINDS)[number], {
        grant: BUDGETED,
        config: { 'budgets.redisUrl': REDIS_URL, 'budgets.redisKeyPrefix': prefix },
      });
    });
    after(async () => {
      await h?.close();
    });

    test('refuses the call past the task budget with 429 ERR_BUDGET_EXHAUSTED', async () => {
      const agent = await h.registerAgent('agent-a');
      const task = await h.startTask(agent, { details: READ });
      const url = `${h.resourceUri('api')}/v1/projects`;
      assert.equal((await task.fetch(url)).status, 200);
      assert.equal((await task.fetch(url)).status, 200);
      const third = await task.fetch(url);
      assert.equal(third.status, 429);
      assert.equal(((await third.json()) as { code: string }).code, 'ERR_BUDGET_EXHAUSTED');
    });
  });
});
