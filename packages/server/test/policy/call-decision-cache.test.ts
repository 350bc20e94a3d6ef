/**
 * The call-decision cache must decide exactly as Cedar would. The differential test is what licenses it: several
 * policy sets that read different parts of the context (or none, or all of it), thousands of random requests from
 * small pools (so keys repeat), policy reloads and entities changes interleaved — also racing with lookups — and
 * every answer from the cache equals a full evaluation of the same request by the engine.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createCallDecisionCache,
  createPolicyEngine,
  type CallDecisionCache,
  type CedarRequest,
  type Decision,
  type PolicyEngine,
} from '../../src/policy/index.js';
import { request } from './fixtures/requests.js';
import { NAMES, prng, SETS, type Grants } from './fixtures/policy-sets.js';

let engine: PolicyEngine;
before(() => {
  engine = createPolicyEngine();
});
after(() => engine.close());

const AGENTS = ['a1', 'a2', 'a3'];
const USERS = ['dev:alice', 'dev:bob'];
const RESOURCES = ['api', 'other'];
const METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];
const PATHS = ['/', '/v1/projects', '/v1/projects/7', '/admin', '/admin/users', '/v1/projectsX'];
const PURPOSES = ['', 'ops'];
const EMAILS = ['', '@example.com', '@elsewhere.example'];

/**
 * Agents and resources are a function of the entities version (that is the contract: the register version changes
 * whenever an agent or resource does), and they do change from one version to the next. The user entity is not
 * register data: its email comes from the task token, so it varies on its own, whatever the version.
 */
function randomRequest(rand: (n: number) => number, entitiesVersion: number): CedarRequest {
  const agent = rand(AGENTS.length);
  const user = rand(USERS.length);
  const resource = rand(RESOURCES.length);
  const email = EMAILS[rand(EMAILS.length)] as string;
  return request({
    agent: AGENTS[agent] as string,
    agentStatus: (agent + entitiesVersion) % 3 === 0 ? 'suspended' : 'active',
    user: USERS[user] as string,
    ...(email !== '' ? { email: `${USERS[user]?.slice(4)}${email}` } : {}),
    resource: RESOURCES[resource] as string,
    resourceKind: (resource + entitiesVersion) % 2 === 0 ? 'http' : 'grpc',
    method: METHODS[rand(METHODS.length)] as string,
    path: PATHS[rand(PATHS.length)] as string,
    purpose: PURPOSES[rand(PURPOSES.length)] as string,
    depth: rand(2),
  });
}

const norm = (d: Decision | undefined): Decision | undefined =>
  d === undefined ? undefined : { decision: d.decision, reasons: [...d.reasons].sort(), errors: [...d.errors].sort() };

test('differential: every call-decision cache answer equals a full Cedar evaluation, across reloads and entity changes', async () => {
  const seed = Number(process.env['WRIT_TEST_SEED'] ?? 20261122);
  const rand = prng(seed);
  // A large cache and a tiny one (eviction on almost every miss) must both be exact.
  const caches: Array<[string, CallDecisionCache]> = [
    ['cache', createCallDecisionCache(engine)],
    ['tiny cache', createCallDecisionCache(engine, { maxEntries: 40 })],
  ];
  let entitiesVersion = 1;
  let current = 'path';
  await engine.load(SETS[current] as Grants);
  const hitsPerSet = new Map<string, number>();
  let compared = 0;
  let syncHits = 0;
  let step = 0;
  let setIndex = 0;

  const loadSet = async (name: string): Promise<void> => {
    current = name;
    if (name === 'broken') await assert.rejects(engine.load(SETS[name] as Grants), /does not parse/);
    else await engine.load(SETS[name] as Grants);
  };
  const check = (r: CedarRequest, via: string, got: Decision, want: Decision | undefined): void => {
    assert.deepEqual(
      norm(got),
      norm(want),
      `seed ${seed}, step ${step}, set ${current}, ${via}, entities v${entitiesVersion}: ${JSON.stringify({ p: r.principal.id, r: r.resource.id, c: r.context, e: r.entities })}`,
    );
    compared++;
  };
  const viaCache = (cache: CallDecisionCache, r: CedarRequest): Decision | Promise<Decision> => {
    const hits = cache.stats().hits;
    const out = cache.decide(r, String(entitiesVersion));
    const hit = cache.stats().hits > hits;
    // A hit answers synchronously; a miss asks the worker.
    assert.equal(out instanceof Promise, !hit, 'hits are synchronous, misses are not');
    if (hit) {
      syncHits++;
      hitsPerSet.set(current, (hitsPerSet.get(current) ?? 0) + 1);
    }
    return out;
  };

  for (step = 0; step < 3000; step++) {
    const op = rand(1000);
    if (op < 7) {
      // Round robin, not random: every policy set gets its share of the run whatever the seed.
      await loadSet(NAMES[++setIndex % NAMES.length] as string);
    } else if (op < 14) {
      entitiesVersion++;
    } else if (op < 60) {
      // A burst of concurrent lookups (with repeats, so concurrent misses share evaluations), against one batch.
      const burst = Array.from({ length: 12 }, () => randomRequest(rand, entitiesVersion));
      burst.push(...burst.slice(0, 4));
      for (const [name, cache] of caches) {
        const got = await Promise.all(burst.map(async (r) => viaCache(cache, r)));
        const want = await engine.authorize(burst);
        burst.forEach((r, i) => check(r, `${name} burst`, got[i] as Decision, want[i]));
      }
    } else if (op < 65) {
      // A reload racing with lookups: answers during the race may come from either set, but once it is over, nothing
      // decided under the old set may be served.
      const next = NAMES[rand(NAMES.length)] as string;
      const racing = Array.from({ length: 8 }, () => randomRequest(rand, entitiesVersion));
      const cache = (caches[rand(caches.length)] as [string, CallDecisionCache])[1];
      const before = racing.map((r) => cache.decide(r, String(entitiesVersion)));
      const loading = loadSet(next);
      const during = racing.map((r) => cache.decide(r, String(entitiesVersion)));
      await Promise.all([loading, ...before, ...during]);
      const want = await engine.authorize(racing);
      for (const [name, c] of caches)
        for (const [i, r] of racing.entries()) check(r, `${name} after a racing reload`, await viaCache(c, r), want[i]);
    } else {
      const r = randomRequest(rand, entitiesVersion);
      const [want] = await engine.authorize([r]);
      for (const [name, cache] of caches) check(r, name, await viaCache(cache, r), want);
    }
  }

  const big = (caches[0] as [string, CallDecisionCache])[1].stats();
  const tiny = (caches[1] as [string, CallDecisionCache])[1].stats();
  const lookups = big.hits + big.misses;
  assert.ok(compared > 6000, `compared ${compared}`);
  // Proof that the test proves something: the cache answered a large share by itself, for every kind of policy set.
  assert.ok(big.hits > lookups / 3, `hits ${big.hits} of ${lookups}`);
  assert.ok(big.misses > 100 && tiny.misses > big.misses, JSON.stringify({ big, tiny }));
  assert.ok(tiny.size <= 40);
  for (const name of ['path', 'method', 'entities', 'has', 'whole', 'forbid', 'errors', 'broken'])
    assert.ok((hitsPerSet.get(name) ?? 0) > 0, `no cache hit under policy set "${name}": ${JSON.stringify([...hitsPerSet])}`);
  assert.ok(syncHits > 0);
});

/** An engine wrapper that counts full evaluations. */
function counting(inner: PolicyEngine): PolicyEngine & { evaluations: number } {
  const wrapper = Object.create(inner) as PolicyEngine & { evaluations: number };
  Object.defineProperties(wrapper, {
    version: { get: () => inner.version },
    contextUse: { get: () => inner.contextUse },
    authorize: {
      value: (requests: CedarRequest[]) => {
        wrapper.evaluations++;
        return inner.authorize(requests);
      },
    },
    evaluations: { value: 0, writable: true },
  });
  return wrapper;
}

test('the key holds only what can change the answer', async () => {
  const e = counting(engine);
  await engine.load(SETS['method'] as Grants);
  const cache = createCallDecisionCache(e);
  const first = cache.decide(request({ path: '/a', purpose: 'x', depth: 0 }), '1');
  assert.ok(first instanceof Promise);
  assert.equal((await first).decision, 'allow');
  // Path, purpose, depth and user are read by no policy: same key, answered synchronously.
  const hit = cache.decide(request({ path: '/b', purpose: 'y', depth: 1, user: 'dev:bob' }), '1');
  assert.equal(hit instanceof Promise, false);
  assert.deepEqual(hit, { decision: 'allow', reasons: ['get.0'], errors: [] });
  // What can change it: method (read), principal, resource, entities version. (No policy reads context.user, so
  // neither does the key: bob with any email is the same question.)
  const misses: Array<Promise<Decision>> = [];
  for (const [r, ev] of [
    [request({ method: 'POST' }), '1'],
    [request({ agent: 'other' }), '1'],
    [request({ resource: 'other' }), '1'],
    [request(), '2'],
  ] as const) {
    const d = cache.decide(r, ev);
    assert.ok(d instanceof Promise, JSON.stringify([r.principal, r.resource, r.context['method'], ev]));
    misses.push(d);
  }
  assert.deepEqual(cache.stats(), { hits: 1, misses: 5, size: 1 });
  await Promise.all(misses);
  assert.equal(e.evaluations, 5);
});

test('concurrent misses share one evaluation; a reload drops every entry', async () => {
  const e = counting(engine);
  await engine.load(SETS['path'] as Grants);
  const cache = createCallDecisionCache(e);
  const r = request({ agent: 'a1', resource: 'api' });
  const answers = await Promise.all([cache.decide(r, '1'), cache.decide(r, '1'), cache.decide(r, '1')]);
  assert.equal(e.evaluations, 1);
  assert.deepEqual(
    answers.map((a) => a.decision),
    ['allow', 'allow', 'allow'],
  );
  assert.equal(cache.stats().size, 1);

  await engine.load(SETS['path'] as Grants); // the same text is still a new version
  const after = cache.decide(r, '1');
  assert.ok(after instanceof Promise, 'nothing survives a reload');
  assert.equal(cache.stats().size, 0);
  await after;
  assert.equal(e.evaluations, 2);
});

test('decisions with evaluation errors are never cached', async () => {
  const e = counting(engine);
  await engine.load(SETS['errors'] as Grants);
  const cache = createCallDecisionCache(e);
  const r = request({ depth: 1 });
  for (let i = 0; i < 3; i++) {
    const d = cache.decide(r, '1');
    assert.ok(d instanceof Promise);
    assert.equal((await d).decision, 'deny');
  }
  assert.equal(e.evaluations, 3);
  assert.equal(cache.stats().size, 0);
});

test('the user entity is part of the key when a policy reads context.user: the same user with another email is asked again', async () => {
  const e = counting(engine);
  await engine.load(SETS['has'] as Grants);
  const cache = createCallDecisionCache(e);
  const at = (email?: string): Promise<Decision> =>
    Promise.resolve(cache.decide(request({ user: 'dev:alice', ...(email !== undefined ? { email } : {}) }), '1'));
  const inside = await at('alice@example.com');
  const outside = await at('alice@elsewhere.example');
  const none = await at();
  assert.equal(e.evaluations, 3, 'one register version, three users as the token names them: three questions');
  assert.notDeepEqual(norm(inside), norm(outside));
  assert.deepEqual(norm(await at('alice@example.com')), norm(inside));
  assert.deepEqual(norm(none), norm((await engine.authorize([request({ user: 'dev:alice' })]))[0]));
  assert.equal(e.evaluations, 3);
});
