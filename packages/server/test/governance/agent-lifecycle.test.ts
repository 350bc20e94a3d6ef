/**
 * The register's lifecycle of agents, on every store: an end date refuses the agent everywhere once passed (token
 * endpoint and gateway, audited) and a later date lets it back; `last_used_at` is noted per token and call and written
 * in batches that never move it backwards; an owner's user revocation suspends (or, as configured, flags) the agents
 * they own; `writ agents review`'s API lists what is due and why; bad input changes nothing.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { AdminClientError } from '../../src/admin-client/index.js';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type Harness, type TestAgent } from '../helpers/writ-harness.js';
import { AgentLifecycle } from '../../src/register/index.js';

const READ: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }];
const ANY_AGENT_READS = `permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && context.method == "GET" && context.path like "/v1/*" };`;
const DAY = 86_400;

interface AgentView {
  id: string;
  owner: string;
  status: string;
  expiresAt: number | null;
  reviewBy: number | null;
  lastUsedAt: number | null;
  ownerOffboardedAt: number | null;
}
interface ReviewItem {
  agent: string;
  reasons: string[];
}

async function callApi(h: Harness, agent: TestAgent): Promise<{ status: number; code?: string }> {
  const task = await h.startTask(agent, { details: READ });
  const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`);
  const body = (await res.json()) as { code?: string };
  return { status: res.status, ...(body.code !== undefined ? { code: body.code } : {}) };
}

async function refusedWith(p: Promise<unknown>, status: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AdminClientError, String(err));
    assert.equal(err.status, status, err.message);
    return true;
  });
}

describeEachStore('agent lifecycle', (kind) => {
  describe('suspend on offboarding (default)', () => {
    const h = useHarness(kind, { grant: ANY_AGENT_READS });

    test('an end date: refused at the token endpoint and the gateway once passed, audited; a later one lets it back', async () => {
      const agent = await h.registerAgent('life-expiring');
      const ends = h.clock.now() + 2 * DAY * 1000;
      const updated = await h.admin.patch<AgentView>('/agents/life-expiring', { expiresAt: new Date(ends).toISOString() });
      assert.equal(updated.expiresAt, ends);
      // A task started before the end keeps its token, but the agent is checked at every call too.
      const task = await h.startTask(agent, { details: READ });
      assert.equal((await task.fetch(`${h.resourceUri('api')}/v1/projects`)).status, 200);
      // An end date in the past ends the registration now (the clock is not moved: the agent's assertions use real time).
      await h.admin.patch('/agents/life-expiring', { expiresAt: h.clock.now() - 1000 });
      const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'ERR_AGENT_EXPIRED');
      await assert.rejects(h.startTask(agent, { details: READ }), /invalid_client/);
      const due = await h.admin.get<ReviewItem[]>('/agents/review');
      assert.ok(due.find((d) => d.agent === 'life-expiring')?.reasons.includes('expired'));
      await h.writ.flushAudit();
      const denied = await h.admin.get<Array<{ reason: string; agent_id?: string }>>('/audit?type=call.denied&limit=1000');
      assert.ok(denied.some((e) => e.reason === 'ERR_AGENT_EXPIRED' && e.agent_id === 'life-expiring'));

      // The schedule also revokes what an ended agent holds, once per end date, for services that see only revocations.
      const lifecycle = new AgentLifecycle({
        db: h.store.db,
        register: h.writ.register,
        now: h.clock.now,
        onOwnerOffboarded: 'suspend',
      });
      const revoke = (agentId: string): Promise<void> =>
        h.writ.revocations
          .revoke({ type: 'agent', agentId }, { reason: 'agent registration ended', actor: 'system:schedule' })
          .then(() => undefined);
      assert.deepEqual(await lifecycle.endExpired(revoke), ['life-expiring']);
      assert.deepEqual(await lifecycle.endExpired(revoke), []);
      const log = await h.admin.get<Array<{ target: { type: string; agentId?: string }; reason: string }>>('/revocations');
      assert.ok(log.some((r) => r.target.agentId === 'life-expiring' && r.reason === 'agent registration ended'));

      // A later end date lets the agent back: tokens issued after the revocation's second are good.
      h.clock.advance(2);
      await h.admin.patch('/agents/life-expiring', { expiresAt: ends });
      assert.deepEqual(await callApi(h, agent), { status: 200 });
    });

    test('last use: noted per token and call, written in batches, never moved backwards', async () => {
      const agent = await h.registerAgent('life-used');
      assert.equal((await h.admin.get<AgentView>('/agents/life-used')).lastUsedAt, null);
      const t0 = h.clock.now();
      await callApi(h, agent);
      // Shown before it is written (this node merges what it noted) …
      const noted = (await h.admin.get<AgentView>('/agents/life-used')).lastUsedAt;
      assert.ok(noted !== null && noted >= t0 && noted <= h.clock.now(), String(noted));
      const stored = async (): Promise<number | null> =>
        (await h.store.db.selectFrom('agents').select('last_used_at').where('id', '=', 'life-used').executeTakeFirstOrThrow()).last_used_at;
      assert.equal(await stored(), null);
      // … and stored by the batch.
      assert.ok((await h.writ.flushAgentUse()) >= 1);
      assert.equal(await stored(), noted);
      // A batch with an older time (another node's, late) does not move it back.
      await h.store.db
        .updateTable('agents')
        .set({ last_used_at: noted + 60_000 })
        .where('id', '=', 'life-used')
        .execute();
      await callApi(h, agent);
      await h.writ.flushAgentUse();
      assert.equal(await stored(), noted + 60_000);
    });

    test("an owner's user revocation suspends the agents they own, and revokes what those agents hold", async () => {
      const owned = await h.registerAgent('life-owned');
      const other = await h.registerAgent('life-other');
      await h.admin.patch('/agents/life-owned', { owner: 'dev:bob' });
      const task = await h.startTask(owned, { details: READ });
      await h.admin.post('/revocations', { target: { type: 'user', userId: 'dev:bob' }, reason: 'bob left' });
      const after = await h.admin.get<AgentView>('/agents/life-owned');
      assert.equal(after.status, 'suspended');
      assert.equal(typeof after.ownerOffboardedAt, 'number');
      const res = await task.fetch(`${h.resourceUri('api')}/v1/projects`);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { code: string }).code, 'ERR_REVOKED_AGENT');
      assert.equal((await h.admin.get<AgentView>('/agents/life-other')).status, 'active');
      assert.deepEqual(await callApi(h, other), { status: 200 });
      const due = await h.admin.get<ReviewItem[]>('/agents/review');
      assert.ok(due.find((d) => d.agent === 'life-owned')?.reasons.includes('owner_offboarded'));
      // A new owner clears the flag; the operator decides when it is active again.
      const handed = await h.admin.patch<AgentView>('/agents/life-owned', { owner: 'team-platform' });
      assert.equal(handed.ownerOffboardedAt, null);
      assert.equal(handed.status, 'suspended');
    });

    test('review: never used, long unused, review due — each with its reason; offboarded agents are not listed', async () => {
      const idle = await h.registerAgent('life-idle');
      await h.registerAgent('life-never');
      await h.registerAgent('life-gone');
      await h.admin.post('/agents/life-gone/status', { status: 'offboarded', reason: 'test' });
      await h.admin.patch('/agents/life-idle', { reviewBy: new Date(h.clock.now() + 10 * DAY * 1000).toISOString().slice(0, 10) });
      await callApi(h, idle);
      await h.writ.flushAgentUse();
      // 100 days of idleness, written into the store rather than waited for.
      const longAgo = h.clock.now() - 100 * DAY * 1000;
      await h.store.db.updateTable('agents').set({ last_used_at: longAgo }).where('id', '=', 'life-idle').execute();
      await h.store.db.updateTable('agents').set({ created_at: longAgo }).where('id', '=', 'life-never').execute();
      const due = new Map((await h.admin.get<ReviewItem[]>('/agents/review?within=30&unused=90')).map((d) => [d.agent, d.reasons]));
      assert.deepEqual(due.get('life-idle')?.sort(), ['review_due', 'unused']);
      assert.deepEqual(due.get('life-never'), ['never_used']);
      assert.equal(due.has('life-gone'), false);
      // Used again: no longer unused.
      await callApi(h, idle);
      const again = new Map((await h.admin.get<ReviewItem[]>('/agents/review?within=30&unused=90')).map((d) => [d.agent, d.reasons]));
      assert.deepEqual(again.get('life-idle'), ['review_due']);
    });

    test('bad input changes nothing', async () => {
      await h.registerAgent('life-input');
      const before = await h.admin.get<AgentView>('/agents/life-input');
      await refusedWith(h.admin.patch('/agents/life-input', {}), 400);
      await refusedWith(h.admin.patch('/agents/life-input', { expiresAt: 'next tuesday' }), 400);
      await refusedWith(h.admin.patch('/agents/life-input', { expiresAt: -5 }), 400);
      await refusedWith(h.admin.patch('/agents/life-input', { owner: 'a\u0000b' }), 400);
      await refusedWith(h.admin.patch('/agents/life-input', { status: 'active' }), 400);
      await refusedWith(h.admin.patch('/agents/nobody', { owner: 'x' }), 404);
      await refusedWith(h.admin.get('/agents/review?within=-1'), 400);
      assert.deepEqual(await h.admin.get<AgentView>('/agents/life-input'), before);
    });
  });

  describe('flag on offboarding (agents.onOwnerOffboarded: flag)', () => {
    const h = useHarness(kind, { grant: ANY_AGENT_READS, config: { 'agents.onOwnerOffboarded': 'flag' } });
    let agent: TestAgent;
    before(async () => {
      agent = await h.registerAgent('life-flagged');
      await h.admin.patch('/agents/life-flagged', { owner: 'dev:bob' });
    });

    test("an owner's user revocation only flags their agents: they keep working and are listed for review", async () => {
      await h.admin.post('/revocations', { target: { type: 'user', userId: 'dev:bob' }, reason: 'bob left' });
      const after = await h.admin.get<AgentView>('/agents/life-flagged');
      assert.equal(after.status, 'active');
      assert.equal(typeof after.ownerOffboardedAt, 'number');
      assert.deepEqual(await callApi(h, agent), { status: 200 });
      const due = await h.admin.get<ReviewItem[]>('/agents/review');
      assert.deepEqual(due.find((d) => d.agent === 'life-flagged')?.reasons, ['owner_offboarded']);
    });
  });
});
