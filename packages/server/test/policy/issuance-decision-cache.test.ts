/**
 * The issuance-decision cache must decide exactly as Cedar would. Differential: the call cache's policy sets plus
 * sets on `mcp_tool` and `delegate`, thousands of random batches of requests from small pools (so keys repeat) whose
 * entities change freely — the user's email and the agent's status are not tied to any version, since issuance
 * entities come partly from the user's token — policy reloads interleaved and racing with lookups, and every answer
 * equals a full evaluation of the same batch by the engine.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createIssuanceDecisionCache,
  createPolicyEngine,
  delegateRequest,
  httpRequest,
  mcpToolRequest,
  type CedarRequest,
  type Decision,
  type IssuanceDecisionCache,
  type PolicyEngine,
} from '../../src/policy/index.js';
import { request } from './fixtures/requests.js';
import { prng, SETS as CALL_SETS, type Grants } from './fixtures/policy-sets.js';

let engine: PolicyEngine;
before(() => {
  engine = createPolicyEngine();
});
after(() => engine.close());

const SETS: Record<string, Grants> = {
  ...CALL_SETS,
  tools: [
    {
      id: 'read',
      text: 'permit (principal, action == Writ::Action::"mcp_tool", resource) when { context.tool like "read*" && context.user == Writ::User::"dev:alice" };',
    },
    {
      id: 'no-bob-mail',
      text: 'forbid (principal, action, resource) when { context.user has email && context.user.email == "bob@example.com" };',
    },
  ],
  delegate: [
    {
      id: 'del',
      text: 'permit (principal == Writ::Agent::"a1", action == Writ::Action::"delegate", resource) when { context.depth < 2 && resource.status == "active" };',
    },
    { id: 'http', text: 'permit (principal, action == Writ::Action::"http", resource) when { context.purpose == "ops" };' },
  ],
};
const NAMES = Object.keys(SETS);

const AGENTS = ['a1', 'a2', 'a3'];
const STATUSES = ['active', 'suspended'];
const USERS = ['dev:alice', 'dev:bob'];
const EMAILS = [undefined, 'alice@example.com', 'bob@example.com'];
const RESOURCES = ['api', 'other'];
const KINDS = ['http', 'grpc', 'mcp'];
const METHODS = ['GET', 'POST', 'DELETE'];
const PATHS = ['/v1/projects', '/v1/projects/*', '/admin/**', '/v1/projectsX'];
const TOOLS = ['read_file', 'read*', 'write_file'];
const PURPOSES = ['', 'ops'];

function pickFrom<T>(rand: (n: number) => number, xs: readonly T[]): T {
  return xs[rand(xs.length)] as T;
}

/**
 * Entities vary freely from request to request (one of a few "variants" of every agent, user and resource), so a
 * stale entry would be served if the key missed any of them; the pools stay small so that keys repeat.
 */
function randomRequest(rand: (n: number) => number): CedarRequest {
  const variant = rand(3);
  const a = rand(AGENTS.length);
  const agentId = AGENTS[a] as string;
  const agent = {
    id: agentId,
    name: agentId,
    owner: 'team',
    kind: 'assistant',
    status: STATUSES[(a + variant) % 3 === 0 ? 1 : 0] as string,
  };
  const u = rand(USERS.length);
  const email = EMAILS[(u + variant) % EMAILS.length];
  const user = { idp: 'dev', sub: (USERS[u] as string).slice(4), ...(email !== undefined ? { email } : {}) };
  const r = rand(RESOURCES.length);
  const resourceId = RESOURCES[r] as string;
  const resource = { id: resourceId, kind: KINDS[(r + variant) % KINDS.length] as string, name: resourceId };
  const purpose = pickFrom(rand, PURPOSES);
  const depth = rand(2);
  const kind = rand(10);
  if (kind < 6) return httpRequest({ agent, user, resource, method: pickFrom(rand, METHODS), path: pickFrom(rand, PATHS), purpose, depth });
  if (kind < 8) return mcpToolRequest({ agent, user, resource, tool: pickFrom(rand, TOOLS), purpose, depth });
  const c = rand(AGENTS.length);
  const childId = AGENTS[c] as string;
  return delegateRequest({
    parent: agent,
    child: { id: childId, name: childId, owner: 'team', kind: 'assistant', status: STATUSES[(c + variant) % 2] as string },
    user,
    depth,
  });
}

const norm = (d: Decision | undefined): Decision | undefined =>
  d === undefined ? undefined : { decision: d.decision, reasons: [...d.reasons].sort(), errors: [...d.errors].sort() };

test('differential: every issuance-decision cache answer equals a full Cedar evaluation, across reloads and entity changes', async () => {
  const seed = Number(process.env['WRIT_TEST_SEED'] ?? 20261201);
  const rand = prng(seed);
  const caches: Array<[string, IssuanceDecisionCache]> = [
    ['cache', createIssuanceDecisionCache(engine)],
    ['tiny cache', createIssuanceDecisionCache(engine, { maxEntries: 30 })],
  ];
  let current = 'path';
  await engine.load(SETS[current] as Grants);
  const hitsPerSet = new Map<string, number>();
  let compared = 0;
  let step = 0;
  let loads = 0;

  const loadSet = async (name: string): Promise<void> => {
    current = name;
    if (name === 'broken') await assert.rejects(engine.load(SETS[name] as Grants), /does not parse/);
    else await engine.load(SETS[name] as Grants);
  };
  const check = (batch: CedarRequest[], via: string, got: Decision[], want: Decision[]): void => {
    assert.equal(got.length, batch.length);
    batch.forEach((r, i) => {
      assert.deepEqual(
        norm(got[i]),
        norm(want[i]),
        `seed ${seed}, step ${step}, set ${current}, ${via}: ${JSON.stringify({ p: r.principal, a: r.action.id, r: r.resource, c: r.context, e: r.entities })}`,
      );
      compared++;
    });
  };
  const viaCache = async (cache: IssuanceDecisionCache, batch: CedarRequest[]): Promise<Decision[]> => {
    const hits = cache.stats().hits;
    const out = await cache.authorize(batch);
    hitsPerSet.set(current, (hitsPerSet.get(current) ?? 0) + cache.stats().hits - hits);
    return out;
  };

  for (step = 0; step < 2500; step++) {
    const op = rand(1000);
    if (step % 125 === 0) {
      // In turn, so that every set is active for a while.
      await loadSet(NAMES[loads++ % NAMES.length] as string);
    } else if (op < 8) {
      // The same set again: a new version all the same, so every entry must go.
      await loadSet(current);
    } else if (op < 60) {
      // Concurrent batches with shared questions (and repeats inside a batch), so in-flight misses are shared.
      const batches = Array.from({ length: 3 }, () => Array.from({ length: 1 + rand(6) }, () => randomRequest(rand)));
      (batches[1] as CedarRequest[]).push(...(batches[0] as CedarRequest[]).slice(0, 2));
      for (const [name, cache] of caches) {
        const got = await Promise.all(batches.map((b) => viaCache(cache, b)));
        for (const [i, b] of batches.entries()) check(b, `${name} concurrent batches`, got[i] as Decision[], await engine.authorize(b));
      }
    } else if (op < 66) {
      // A reload racing with lookups (to the set that comes next, or the same one): once it is over, nothing decided
      // under the old version may be served.
      const next = rand(2) === 0 ? current : (NAMES[loads++ % NAMES.length] as string);
      const batch = Array.from({ length: 6 }, () => randomRequest(rand));
      const cache = (caches[rand(caches.length)] as [string, IssuanceDecisionCache])[1];
      const beforeReload = cache.authorize(batch);
      const loading = loadSet(next);
      const during = cache.authorize(batch);
      await Promise.all([loading, beforeReload, during]);
      const want = await engine.authorize(batch);
      for (const [name, c] of caches) check(batch, `${name} after a racing reload`, await viaCache(c, batch), want);
    } else {
      const batch = Array.from({ length: 1 + rand(4) }, () => randomRequest(rand));
      const want = await engine.authorize(batch);
      for (const [name, cache] of caches) check(batch, name, await viaCache(cache, batch), want);
    }
  }

  const big = (caches[0] as [string, IssuanceDecisionCache])[1].stats();
  const tiny = (caches[1] as [string, IssuanceDecisionCache])[1].stats();
  assert.ok(compared > 10_000, `compared ${compared}`);
  // Proof that the test proves something: the cache answered a large share itself, under every kind of policy set.
  assert.ok(big.hits > (big.hits + big.misses) / 4, JSON.stringify(big));
  assert.ok(big.misses > 100 && tiny.misses > big.misses, JSON.stringify({ big, tiny }));
  assert.ok(tiny.size <= 30);
  for (const name of NAMES) assert.ok((hitsPerSet.get(name) ?? 0) > 0, `no cache hit under "${name}": ${JSON.stringify([...hitsPerSet])}`);
});

/** An engine wrapper that counts batches sent to the worker. */
function counting(inner: PolicyEngine): PolicyEngine & { batches: CedarRequest[][] } {
  const wrapper = Object.create(inner) as PolicyEngine & { batches: CedarRequest[][] };
  Object.defineProperties(wrapper, {
    version: { get: () => inner.version },
    contextUse: { get: () => inner.contextUse },
    authorize: {
      value: (requests: CedarRequest[]) => {
        wrapper.batches.push(requests);
        return inner.authorize(requests);
      },
    },
    batches: { value: [] },
  });
  return wrapper;
}

test('a claim of the user token (email) is part of the key: the same user with another email is asked again', async () => {
  await engine.load(SETS['has'] as Grants);
  const e = counting(engine);
  const cache = createIssuanceDecisionCache(e);
  const mail = (email: string): CedarRequest => request({ email, purpose: 'x' });
  assert.equal((await cache.authorize([mail('alice@example.com')]))[0]?.decision, 'allow');
  assert.equal((await cache.authorize([mail('alice@example.com')]))[0]?.decision, 'allow');
  assert.equal(e.batches.length, 1, 'the repeat is a hit');
  assert.equal((await cache.authorize([mail('alice@evil.org')]))[0]?.decision, 'deny');
  assert.equal(e.batches.length, 2);
  // An unread context attribute (path under this set) does not split the key.
  assert.equal((await cache.authorize([request({ email: 'alice@example.com', purpose: 'x', path: '/elsewhere' })]))[0]?.decision, 'allow');
  assert.equal(e.batches.length, 2);
});

test('misses of one batch are one round trip; hits are not sent; a reload drops every entry', async () => {
  await engine.load(SETS['path'] as Grants);
  const e = counting(engine);
  const cache = createIssuanceDecisionCache(e);
  const a = request({ agent: 'a1', resource: 'api', path: '/v1/projects' });
  const b = request({ agent: 'a1', resource: 'api', path: '/v1/other' });
  const first = await cache.authorize([a, b, a]);
  assert.deepEqual(
    first.map((d) => d.decision),
    ['allow', 'deny', 'allow'],
  );
  assert.equal(e.batches.length, 1);
  assert.equal(e.batches[0]?.length, 2, 'a question asked twice in one batch is evaluated once');
  const c = request({ agent: 'a1', resource: 'api', path: '/v1/projects/7' });
  await cache.authorize([a, c]);
  assert.equal(e.batches.length, 2);
  assert.deepEqual(e.batches[1], [c], 'only the miss goes to the worker');
  await engine.load(SETS['path'] as Grants);
  await cache.authorize([a]);
  assert.equal(e.batches.length, 3, 'nothing survives a reload');
});

test('decisions with evaluation errors are never cached; an engine failure rejects, as the engine would', async () => {
  await engine.load(SETS['errors'] as Grants);
  const e = counting(engine);
  const cache = createIssuanceDecisionCache(e);
  for (let i = 0; i < 3; i++) assert.equal((await cache.authorize([request({ depth: 1 })]))[0]?.decision, 'deny');
  assert.equal(e.batches.length, 3);
  assert.equal(cache.stats().size, 0);

  const failing = createIssuanceDecisionCache({
    version: 1,
    contextUse: { all: true },
    authorize: () => Promise.reject(new Error('policy worker stopped')),
  });
  const r = request();
  await assert.rejects(Promise.all([failing.authorize([r]), failing.authorize([r])]), /policy worker stopped/);
  await assert.rejects(failing.authorize([r]), /policy worker stopped/);
  assert.equal(failing.stats().size, 0);
});
