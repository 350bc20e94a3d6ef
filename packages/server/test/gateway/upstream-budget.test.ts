/**
 * The upstream budget on its own: the three bounds, which one is named, what a release gives back, and what
 * /readyz and the metrics read from it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WritError } from '@writ/protocol';
import { UpstreamBudget, type ShareScope } from '../../src/gateway/index.js';

function refusal(fn: () => unknown): WritError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof WritError);
    return err;
  }
  assert.fail('expected a refusal');
}

test('a task, an agent and a resource each stop at their bound; the narrowest bound is the one named', () => {
  const refused: [string, ShareScope][] = [];
  const budget = new UpstreamBudget({ total: 5, perAgent: 3, perTask: 2 }, (r, s) => refused.push([r, s]));
  const a1 = { agentId: 'a', taskId: 't1' };
  budget.acquire('r', a1);
  budget.acquire('r', a1);
  const byTask = refusal(() => budget.acquire('r', a1));
  assert.equal(byTask.code, 'ERR_UPSTREAM_SHARE_EXCEEDED');
  assert.equal(byTask.status, 429);
  budget.acquire('r', { agentId: 'a', taskId: 't2' });
  const byAgent = refusal(() => budget.acquire('r', { agentId: 'a', taskId: 't3' }));
  assert.equal(byAgent.code, 'ERR_UPSTREAM_SHARE_EXCEEDED');
  assert.match(byAgent.detail ?? '', /agent a holds 3/);
  budget.acquire('r', { agentId: 'b', taskId: 'u1' });
  budget.acquire('r', { agentId: 'b', taskId: 'u2' });
  const byTotal = refusal(() => budget.acquire('r', { agentId: 'c', taskId: 'v1' }));
  assert.equal(byTotal.code, 'ERR_UPSTREAM_SATURATED');
  assert.equal(byTotal.status, 503);
  // Another resource has a budget of its own.
  budget.acquire('other', { agentId: 'c', taskId: 'v1' });
  assert.deepEqual(refused, [
    ['r', 'task'],
    ['r', 'agent'],
    ['r', 'resource'],
  ]);
  const snap = budget.snapshot();
  assert.deepEqual(snap['r'], { inUse: 5, limit: 5, saturated: true, refused: { task: 1, agent: 1, resource: 1 } });
  assert.equal(snap['other']?.saturated, false);
});

test('a release gives back exactly one lease, once; a refused acquire holds nothing', () => {
  const budget = new UpstreamBudget({ total: 2, perAgent: 2, perTask: 1 });
  const t = { agentId: 'a', taskId: 't' };
  const lease = budget.acquire('r', t);
  refusal(() => budget.acquire('r', t));
  lease.release();
  lease.release();
  assert.equal(budget.snapshot()['r']?.inUse, 0);
  const again = budget.acquire('r', t);
  refusal(() => budget.acquire('r', t));
  budget.acquire('r', { agentId: 'a', taskId: 'u' });
  assert.equal(budget.snapshot()['r']?.inUse, 2);
  again.release();
  assert.equal(budget.snapshot()['r']?.inUse, 1);
});

test('shares that do not nest are refused at construction', () => {
  assert.throws(() => new UpstreamBudget({ total: 4, perAgent: 8, perTask: 2 }), RangeError);
  assert.throws(() => new UpstreamBudget({ total: 8, perAgent: 2, perTask: 4 }), RangeError);
});
