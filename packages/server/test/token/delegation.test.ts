/**
 * Sub-agent delegation over real HTTP on every store: a parent exchanges its own task token, with its
 * DPoP proof, for a child token for a sub-agent authenticated as actor. The child can only narrow: a structural
 * subset of the parent's details, never a longer life, a bounded depth, a `delegate` grant; its `act` nests the whole
 * chain and it carries the ancestor task ids; ending a parent ends every descendant. Each rule has its attack.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { createActorAssertion, createDpopProof, generateDpopKey, type Task } from '@writ/agent';
import { TOKEN_TYPE, type AuthorizationDetail } from '@writ/protocol';
import { describeEachStore } from '../helpers/stores.js';
import { useHarness, type TestAgent } from '../helpers/writ-harness.js';
import { postTokenRequest } from '../helpers/token-request.js';
import { startWorkloadIssuer, type WorkloadIssuer } from '../helpers/workload-issuer.js';

const PARENT_DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/projects/**'] }];
const CHILD_DETAILS: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*/issues'] }];

// Every agent may call the API for alice; delegation is its own grant: planner → worker → helper, and planner → mesh-worker.
const GRANT = `permit (principal, action == Writ::Action::"http", resource == Writ::Resource::"api")
when { context.user == Writ::User::"dev:alice" && context.path like "/v1/*" };
permit (principal == Writ::Agent::"planner", action == Writ::Action::"delegate", resource == Writ::Agent::"worker");
permit (principal == Writ::Agent::"planner", action == Writ::Action::"delegate", resource == Writ::Agent::"mesh-worker");
permit (principal == Writ::Agent::"worker", action == Writ::Action::"delegate", resource == Writ::Agent::"helper");
permit (principal == Writ::Agent::"helper", action == Writ::Action::"delegate", resource == Writ::Agent::"helper2");`;

describeEachStore('sub-agent delegation', (kind) => {
  const h = useHarness(kind, { grant: GRANT, config: { 'tokens.maxDelegationDepth': 2 } });
  let planner: TestAgent;
  let worker: TestAgent;
  let helper: TestAgent;
  let helper2: TestAgent;
  let outsider: TestAgent;
  let mesh: WorkloadIssuer;

  before(async () => {
    planner = await h.registerAgent('planner');
    worker = await h.registerAgent('worker');
    helper = await h.registerAgent('helper');
    helper2 = await h.registerAgent('helper2');
    outsider = await h.registerAgent('outsider');
    mesh = await startWorkloadIssuer();
    await h.admin.post('/workload-issuers', {
      id: 'mesh',
      kind: 'spiffe',
      issuer: mesh.issuer,
      jwks: mesh.jwks(),
      audience: h.writ.publicUrl,
    });
    await h.admin.post('/agents', {
      id: 'mesh-worker',
      name: 'mesh-worker',
      owner: 'team-test',
      workload: [{ issuer: 'mesh', subject: 'spiffe://acme.test/worker' }],
    });
  });
  after(async () => {
    await mesh?.close();
  });

  const endpoint = (): string => `${h.writ.publicUrl}/oauth2/token`;

  async function parentTask(details = PARENT_DETAILS): Promise<Task> {
    return h.startTask(planner, { details, purpose: 'triage the backlog' });
  }

  async function delegateTo(parent: Task, child: TestAgent, details: AuthorizationDetail[] = CHILD_DETAILS) {
    const response = await parent.delegate({ actorToken: await child.sdk.actorAssertion(), authorizationDetails: details });
    return { response, task: await child.sdk.adoptTask(response) };
  }

  /** A raw delegation request: the parent's proof by `proofKey` (default: the parent's), everything overridable. */
  async function rawDelegate(parent: Task, fields: Record<string, string | undefined>, o: { proof?: string | null; by?: TestAgent } = {}) {
    const by = o.by ?? planner;
    const proof =
      o.proof === undefined ? await createDpopProof(by.dpopKey, { htm: 'POST', htu: endpoint(), accessToken: parent.token }) : o.proof;
    return postTokenRequest(
      endpoint(),
      {
        subject_token: parent.token,
        subject_token_type: TOKEN_TYPE.accessToken,
        actor_token: await worker.sdk.actorAssertion(),
        actor_token_type: TOKEN_TYPE.jwt,
        authorization_details: JSON.stringify(CHILD_DETAILS),
        ...fields,
      },
      proof,
    );
  }

  test('the child token: subset granted, act nests the chain, ancestor ids carried, bound to the sub-agent key, verified with jose', async () => {
    const parent = await parentTask();
    const { response, task } = await delegateTo(parent, worker);
    assert.deepEqual(response.authorization_details, [
      { type: 'http', locations: [h.resourceUri('api')], actions: ['GET'], paths: ['/v1/projects/*/issues'] },
    ]);
    const { payload } = await jwtVerify(task.token, createRemoteJWKSet(new URL(`${h.writ.url}/.well-known/jwks.json`)), {
      issuer: h.writ.publicUrl,
      audience: h.resourceUri('api'),
      typ: 'at+jwt',
      currentDate: new Date(h.clock.now()),
    });
    assert.equal(payload.sub, 'dev:alice');
    assert.equal(payload['client_id'], 'worker');
    assert.deepEqual(payload['act'], { sub: 'worker', act: { sub: 'planner' } });
    assert.deepEqual(payload['task_chain'], [parent.id]);
    assert.deepEqual(payload['cnf'], { jkt: worker.dpopKey.jkt });
    assert.equal(payload['purpose'], 'triage the backlog');
    assert.ok((payload.exp as number) <= decodeJwt(parent.token).exp!);

    // The sub-agent calls within its details; outside them it is refused, though the parent could.
    const ok = await task.fetch(`${h.resourceUri('api')}/v1/projects/7/issues`);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const wider = await task.fetch(`${h.resourceUri('api')}/v1/projects/7`);
    assert.equal(wider.status, 403);
    await wider.body?.cancel();
    // The parent's key cannot use the child token, and the child's key cannot use the parent's.
    const stolen = await fetch(`${h.resourceUri('api')}/v1/projects/7/issues`, {
      headers: {
        authorization: `DPoP ${task.token}`,
        dpop: await createDpopProof(planner.dpopKey, {
          htm: 'GET',
          htu: `${h.resourceUri('api')}/v1/projects/7/issues`,
          accessToken: task.token,
        }),
      },
    });
    assert.equal(stolen.status, 401);
    await stolen.body?.cancel();

    // The audit trail: user → planner → worker.
    await h.writ.flushAudit();
    const events = await h.admin.get<
      {
        actor_chain: string[];
        data: Record<string, unknown>;
      }[]
    >(`/audit?type=token.delegated&task=${task.id}`);
    assert.deepEqual(events[0]?.actor_chain, ['dev:alice', 'planner', 'worker']);
    assert.equal(events[0]?.data['parent_task_id'], parent.id);
  });

  test('a child never outlives its parent', async () => {
    const parent = await parentTask();
    // Within the proof window (the SDK signs proofs with the real clock): the child's default lifetime would now
    // end 30 s after the parent's.
    h.clock.advance(30);
    try {
      const { task } = await delegateTo(parent, worker);
      const parentExp = decodeJwt(parent.token).exp!;
      assert.equal(decodeJwt(task.token).exp, parentExp);
    } finally {
      h.clock.advance(-30);
    }
  });

  test('asking for more than the parent, in any dimension, is invalid_authorization_details', async () => {
    const parent = await parentTask([{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*'] }]);
    const more: AuthorizationDetail[][] = [
      [{ type: 'http', actions: ['POST'], paths: ['/v1/projects/*'] }],
      [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/**'] }],
      [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }],
      [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/1', '/v1/users/1'] }],
    ];
    for (const details of more) {
      const r = await rawDelegate(parent, { authorization_details: JSON.stringify(details) });
      assert.equal(r.status, 400, JSON.stringify(details));
      assert.equal(r.body['error'], 'invalid_authorization_details', JSON.stringify(details));
    }
    // Another resource is not the parent's: invalid_target.
    await h.admin.post('/resources', { id: 'other', baseUrl: h.upstream.url });
    const r = await rawDelegate(parent, { resource: h.resourceUri('other') });
    assert.equal(r.body['error'], 'invalid_target');
  });

  test('depth is bounded; every level narrows; the chain nests whole', async () => {
    const root = await parentTask();
    const level1 = (await delegateTo(root, worker)).task;
    const level2 = (
      await (async () => {
        const response = await level1.delegate({ actorToken: await helper.sdk.actorAssertion(), authorizationDetails: CHILD_DETAILS });
        return { task: await helper.sdk.adoptTask(response) };
      })()
    ).task;
    const claims = decodeJwt(level2.token);
    assert.deepEqual(claims['act'], { sub: 'helper', act: { sub: 'worker', act: { sub: 'planner' } } });
    assert.deepEqual(claims['task_chain'], [root.id, level1.id]);
    // Depth 3 > maxDelegationDepth 2, though a grant would allow it.
    await assert.rejects(
      level2.delegate({ actorToken: await helper2.sdk.actorAssertion(), authorizationDetails: CHILD_DETAILS }),
      (err: { error?: string; error_description?: string }) => err.error === 'invalid_request' && /depth/.test(err.error_description ?? ''),
    );
  });

  test('delegation needs a grant: to an agent no grant names, or by an agent no grant lets delegate, is refused', async () => {
    const parent = await parentTask();
    const r = await rawDelegate(parent, { actor_token: await outsider.sdk.actorAssertion() });
    assert.equal(r.status, 400);
    assert.equal(r.body['error'], 'invalid_request');
    const workerTask = await h.startTask(worker, { details: PARENT_DETAILS });
    await assert.rejects(
      workerTask.delegate({ actorToken: await planner.sdk.actorAssertion(), authorizationDetails: CHILD_DETAILS }),
      (err: { error?: string }) => err.error === 'invalid_request',
    );
  });

  test('the parent token without its proof, with a proof by another key, or with a proof not bound to it, is refused', async () => {
    const parent = await parentTask();
    let r = await rawDelegate(parent, {}, { proof: null });
    assert.equal(r.body['error'], 'invalid_dpop_proof');
    r = await rawDelegate(parent, {}, { by: outsider });
    assert.equal(r.body['error'], 'invalid_request');
    // A proof without `ath`: it does not show possession of this token.
    r = await rawDelegate(parent, {}, { proof: await createDpopProof(planner.dpopKey, { htm: 'POST', htu: endpoint() }) });
    assert.equal(r.body['error'], 'invalid_dpop_proof');
    // A proof for another URI.
    r = await rawDelegate(
      parent,
      {},
      {
        proof: await createDpopProof(planner.dpopKey, {
          htm: 'POST',
          htu: `${h.writ.publicUrl}/oauth2/introspect`,
          accessToken: parent.token,
        }),
      },
    );
    assert.equal(r.body['error'], 'invalid_dpop_proof');
  });

  test('a forged or truncated act chain is refused (the signature no longer holds)', async () => {
    const root = await parentTask();
    const level1 = (await delegateTo(root, worker)).task;
    const [header, payload, signature] = level1.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forge = (change: Record<string, unknown>): string =>
      `${header}.${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${signature}`;
    for (const token of [
      forge({ act: { sub: 'worker' } }), // truncated: the planner dropped
      forge({ act: { sub: 'worker', act: { sub: 'outsider' } } }), // forged ancestor
      forge({ task_chain: [] }), // chain cut
      `${header}.${payload}.${signature.slice(0, -4)}`, // truncated signature
    ]) {
      const r = await postTokenRequest(
        endpoint(),
        {
          subject_token: token,
          subject_token_type: TOKEN_TYPE.accessToken,
          actor_token: await helper.sdk.actorAssertion(),
          actor_token_type: TOKEN_TYPE.jwt,
          authorization_details: JSON.stringify(CHILD_DETAILS),
        },
        await createDpopProof(worker.dpopKey, { htm: 'POST', htu: endpoint(), accessToken: token }),
      );
      assert.equal(r.status, 400);
      assert.equal(r.body['error'], 'invalid_request');
    }
  });

  test('the store must agree with a validly signed parent token: an ended task or a rewritten chain is refused', async () => {
    // These reach past the signature and the revocation set: only the cross-check against the task records stops them.
    const root = await parentTask();
    const level1 = (await delegateTo(root, worker)).task;
    const delegateFromLevel1 = async () =>
      postTokenRequest(
        endpoint(),
        {
          subject_token: level1.token,
          subject_token_type: TOKEN_TYPE.accessToken,
          actor_token: await helper.sdk.actorAssertion(),
          actor_token_type: TOKEN_TYPE.jwt,
          authorization_details: JSON.stringify(CHILD_DETAILS),
        },
        await createDpopProof(worker.dpopKey, { htm: 'POST', htu: endpoint(), accessToken: level1.token }),
      );
    const db = h.store.db;
    await db.updateTable('tasks').set({ chain: '[]', parent_id: null }).where('id', '=', level1.id).execute();
    assert.equal((await delegateFromLevel1()).body['error'], 'invalid_request', 'chain rewritten');
    await db
      .updateTable('tasks')
      .set({ chain: JSON.stringify([root.id]), parent_id: root.id })
      .where('id', '=', level1.id)
      .execute();
    await db.updateTable('tasks').set({ agent_id: 'outsider' }).where('id', '=', root.id).execute();
    assert.equal((await delegateFromLevel1()).body['error'], 'invalid_request', 'ancestor agent differs from act');
    await db.updateTable('tasks').set({ agent_id: 'planner', status: 'completed' }).where('id', '=', root.id).execute();
    assert.equal((await delegateFromLevel1()).body['error'], 'invalid_request', 'ancestor ended');
    await db.updateTable('tasks').set({ status: 'active' }).where('id', '=', root.id).execute();
    assert.equal((await delegateFromLevel1()).status, 200, 'records restored: accepted');
  });

  test('actor assertions: single use, signed by the sub-agent, naming its key', async () => {
    const parent = await parentTask();
    const assertion = await worker.sdk.actorAssertion();
    assert.equal((await rawDelegate(parent, { actor_token: assertion })).status, 200);
    const replay = await rawDelegate(parent, { actor_token: assertion });
    assert.equal(replay.body['error'], 'invalid_request');
    // Signed by the parent's key but claiming to be the worker.
    const forged = await createActorAssertion({
      agentId: 'worker',
      audience: endpoint(),
      key: planner.clientKey,
      dpopKey: planner.dpopKey,
    });
    assert.equal((await rawDelegate(parent, { actor_token: forged })).body['error'], 'invalid_request');
    // No cnf.jkt: the child token would have no key.
    const { SignJWT } = await import('jose');
    const now = Math.floor(Date.now() / 1000);
    const bare = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: worker.publicJwk.kid })
      .setIssuer('worker')
      .setSubject('worker')
      .setAudience(endpoint())
      .setJti(`j-${now}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(worker.clientKey);
    assert.equal((await rawDelegate(parent, { actor_token: bare })).body['error'], 'invalid_request');
    // A suspended sub-agent gets nothing.
    await h.admin.post('/agents/worker/status', { status: 'suspended' });
    try {
      assert.equal((await rawDelegate(parent, {})).body['error'], 'invalid_request');
    } finally {
      await h.admin.post('/agents/worker/status', { status: 'active' });
      // Suspension revoked every worker token issued up to that second; step past it so later tokens are new.
      h.clock.advance(2);
    }
  });

  test('a workload sub-agent: its SVID as actor_token and dpop_jkt naming its key', async () => {
    const parent = await parentTask();
    const key = await generateDpopKey();
    const svid = await mesh.token({ sub: 'spiffe://acme.test/worker', aud: h.writ.publicUrl });
    const response = await parent.delegate({ actorToken: svid, dpopJkt: key.jkt, authorizationDetails: CHILD_DETAILS });
    const claims = decodeJwt(response.access_token);
    assert.equal(claims['client_id'], 'mesh-worker');
    assert.deepEqual(claims['cnf'], { jkt: key.jkt });
    // Without dpop_jkt the token would have no key the sub-agent chose: refused.
    const r = await rawDelegate(parent, { actor_token: await mesh.token({ sub: 'spiffe://acme.test/worker', aud: h.writ.publicUrl }) });
    assert.equal(r.body['error'], 'invalid_request');
  });

  test('revoking or completing a parent ends every descendant, at the gateway and in the register', async () => {
    for (const end of ['complete', 'revoke'] as const) {
      const root = await parentTask();
      const child = (await delegateTo(root, worker)).task;
      const grandchild = await helper.sdk.adoptTask(
        await child.delegate({ actorToken: await helper.sdk.actorAssertion(), authorizationDetails: CHILD_DETAILS }),
      );
      if (end === 'complete') await root.complete();
      else await h.admin.post(`/tasks/${root.id}/revoke`, { reason: 'test' });
      for (const t of [child, grandchild]) {
        const res = await t.fetch(`${h.resourceUri('api')}/v1/projects/7/issues`);
        assert.equal(res.status, 401, end);
        await res.body?.cancel();
        const task = await h.admin.get<{ status: string }>(`/tasks/${t.id}`);
        assert.equal(task.status, end === 'complete' ? 'completed' : 'revoked');
      }
      // A revoked parent cannot delegate either.
      const r = await rawDelegate(root, {});
      assert.equal(r.body['error'], 'invalid_request', end);
    }
  });

  test('the spawn tree: which agent spawned which sub-agent, for which user and task — and revocation walks the same tree', async () => {
    const root = await parentTask();
    const child = (await delegateTo(root, worker)).task;
    const grandchild = await helper.sdk.adoptTask(
      await child.delegate({ actorToken: await helper.sdk.actorAssertion(), authorizationDetails: CHILD_DETAILS }),
    );
    interface Node {
      task: string;
      agent: string;
      user: string;
      status: string;
      spawned: Node[];
      spawned_by?: { task: string; agent: string };
    }
    const tree = await h.admin.get<{ agent: string; tasks: Node[]; truncated: boolean }>('/agents/planner/spawn-tree');
    assert.equal(tree.agent, 'planner');
    assert.equal(tree.truncated, false);
    const mine = tree.tasks.find((t) => t.task === root.id);
    assert.ok(mine !== undefined, "the planner's task is a root of its tree");
    assert.deepEqual(
      mine.spawned.map((c) => [c.agent, c.task, c.user]),
      [['worker', child.id, 'dev:alice']],
    );
    assert.deepEqual(
      mine.spawned[0]?.spawned.map((c) => [c.agent, c.task]),
      [['helper', grandchild.id]],
    );
    // From the sub-agent's side: who spawned it.
    const workerTree = await h.admin.get<{ tasks: Node[] }>('/agents/worker/spawn-tree');
    const delegated = workerTree.tasks.find((t) => t.task === child.id);
    assert.deepEqual(delegated?.spawned_by, { task: root.id, agent: 'planner' });
    assert.equal(delegated?.spawned[0]?.agent, 'helper');
    // Revoking the root ends what the tree shows under it.
    await h.admin.post(`/tasks/${root.id}/revoke`, { reason: 'spawn tree test' });
    const after = (await h.admin.get<{ tasks: Node[] }>('/agents/planner/spawn-tree')).tasks.find((t) => t.task === root.id);
    assert.deepEqual([after?.status, after?.spawned[0]?.status, after?.spawned[0]?.spawned[0]?.status], ['revoked', 'revoked', 'revoked']);
    const unknown = await fetch(`${h.writ.url}/admin/v1/agents/nobody/spawn-tree`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    assert.equal(unknown.status, 404);
  });
});
