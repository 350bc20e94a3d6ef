/**
 * `mcp` authorization details: which tool calls they cover, what they must never cover, and attenuation
 * (`isSubsetOf`) checked for soundness against the matcher on random details and calls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ArgumentConstraint, ArgumentScalar, AuthorizationDetail, McpAuthorizationDetail } from '@writ/protocol';
import { matchAuthorizationDetails, matchMcpToolCall } from '../src/index.js';
import { canonicalMcpDetail, isSubsetOf, McpDetailError } from '../src/internal.js';

const AUD = 'https://writ.example/mcp/files';
const OTHER = 'https://writ.example/mcp/other';

const call = (tool: string, args?: unknown, resource = AUD) => ({ resource, tool, ...(args !== undefined ? { arguments: args } : {}) });

test('tool names: exact, prefix*, and *', () => {
  const exact: AuthorizationDetail[] = [{ type: 'mcp', tools: ['search'] }];
  assert.equal(matchMcpToolCall(exact, call('search')), true);
  assert.equal(matchMcpToolCall(exact, call('search', {})), true);
  assert.equal(matchMcpToolCall(exact, call('searc')), false);
  assert.equal(matchMcpToolCall(exact, call('search2')), false);
  assert.equal(matchMcpToolCall(exact, call('Search')), false);

  const prefix: AuthorizationDetail[] = [{ type: 'mcp', tools: ['read*'] }];
  for (const t of ['read', 'read_file', 'readme_delete', 'read.x']) assert.equal(matchMcpToolCall(prefix, call(t)), true, t);
  for (const t of ['rea', 'xread', 'write_file', 'Read_file']) assert.equal(matchMcpToolCall(prefix, call(t)), false, t);

  const all: AuthorizationDetail[] = [{ type: 'mcp', tools: ['*'] }];
  assert.equal(matchMcpToolCall(all, call('anything.at_all-1')), true);
  // A tool name outside the MCP charset is malformed, whatever the detail says.
  for (const t of ['', 'a b', 'read*', '*', 'ü', 'a/b', 'x'.repeat(129)])
    assert.equal(matchMcpToolCall(all, call(t)), false, JSON.stringify(t));
  assert.equal(matchMcpToolCall(all, call('x'.repeat(128))), true);
});

test('argument constraints: enum, prefix, range, maxLength', () => {
  const d = (args: Record<string, ArgumentConstraint>): AuthorizationDetail[] => [{ type: 'mcp', tools: ['t'], arguments: args }];
  const yes = (details: AuthorizationDetail[], args: unknown) =>
    assert.equal(matchMcpToolCall(details, call('t', args)), true, JSON.stringify(args));
  const no = (details: AuthorizationDetail[], args: unknown) =>
    assert.equal(matchMcpToolCall(details, call('t', args)), false, JSON.stringify(args));

  const e = d({ repo: { enum: ['writ', 1, true] } });
  yes(e, { repo: 'writ' });
  yes(e, { repo: 1, other: 'anything' });
  yes(e, { repo: true });
  for (const v of ['Writ', '1', 'true', 2, false, null, ['writ'], { v: 'writ' }]) no(e, { repo: v });

  const p = d({ path: { prefix: '/srv/data/' } });
  yes(p, { path: '/srv/data/x.txt' });
  yes(p, { path: '/srv/data/' });
  for (const v of ['/srv/data', '/srv/other', 5, ['/srv/data/x'], null]) no(p, { path: v });

  const r = d({ amount: { range: { min: 0, max: 100 } } });
  for (const v of [0, 100, 55.5, -0]) yes(r, { amount: v });
  for (const v of [-1, 100.01, '50', NaN, Infinity, -Infinity, [50], null, true]) no(r, { amount: v });
  const open = d({ n: { range: { min: 10 } } });
  yes(open, { n: 1e300 });
  no(open, { n: 9 });

  const m = d({ q: { maxLength: 3 } });
  for (const v of ['', 'abc', '😀😀😀']) yes(m, { q: v });
  for (const v of ['abcd', '😀😀😀😀', 3, ['a']]) no(m, { q: v });

  // Several constraints: all must hold.
  const both = d({ path: { prefix: '/srv/' }, mode: { enum: ['ro'] } });
  yes(both, { path: '/srv/a', mode: 'ro' });
  no(both, { path: '/srv/a', mode: 'rw' });
  no(both, { path: '/srv/a' });
});

test('must not match: other tools, missing arguments, malformed calls, prototype tricks, other locations', () => {
  const details: AuthorizationDetail[] = [
    { type: 'mcp', locations: [AUD], tools: ['read_file'], arguments: { path: { prefix: '/srv/' } } },
  ];
  assert.equal(matchMcpToolCall(details, call('read_file', { path: '/srv/a' })), true);
  assert.equal(matchMcpToolCall(details, call('write_file', { path: '/srv/a' })), false);
  assert.equal(matchMcpToolCall(details, call('read_file', { path: '/srv/a' }, OTHER)), false);
  // A constrained argument that is missing does not match, however the call is shaped.
  for (const args of [undefined, {}, { Path: '/srv/a' }, { other: '/srv/a' }])
    assert.equal(matchMcpToolCall(details, call('read_file', args)), false);
  // Arguments that are not an object fail closed, even for a detail with no constraints.
  const free: AuthorizationDetail[] = [{ type: 'mcp', tools: ['*'] }];
  for (const args of [null, [], ['/srv/a'], 'path=/srv/a', 42, true]) {
    assert.equal(matchMcpToolCall(free, call('read_file', args)), false, JSON.stringify(args));
    assert.equal(matchMcpToolCall(details, call('read_file', args)), false, JSON.stringify(args));
  }

  // Inherited members are not arguments: `constructor` and `toString` exist on every object's prototype.
  const proto: AuthorizationDetail[] = [
    { type: 'mcp', tools: ['t'], arguments: { constructor: { maxLength: 1000 } } },
    { type: 'mcp', tools: ['u'], arguments: { toString: { enum: ['x'] } } },
  ];
  assert.equal(matchMcpToolCall(proto, call('t', {})), false);
  assert.equal(matchMcpToolCall(proto, call('u', {})), false);
  assert.equal(matchMcpToolCall(proto, call('t', JSON.parse('{"constructor":"mine"}'))), true);
  // A call whose arguments carry their own `__proto__` (as JSON.parse makes it) satisfies nothing it should not.
  const poisoned = JSON.parse('{"__proto__":{"path":"/srv/a"}}') as unknown;
  assert.equal(matchMcpToolCall(details, call('read_file', poisoned)), false);
  assert.equal(matchMcpToolCall(details, call('read_file', Object.create({ path: '/srv/a' }))), false);
  // A getter is not a value the caller sent.
  const getter = Object.defineProperty({}, 'path', { get: () => '/srv/a', enumerable: true });
  assert.equal(matchMcpToolCall(details, call('read_file', getter)), false);
  // A token detail constraining `__proto__` is malformed: it grants nothing, not even to a call that has one.
  const protoDetail = JSON.parse('[{"type":"mcp","tools":["t"],"arguments":{"__proto__":{"prefix":""}}}]') as AuthorizationDetail[];
  assert.equal(matchMcpToolCall(protoDetail, call('t', JSON.parse('{"__proto__":"x"}'))), false);
});

test('malformed details grant nothing; http and mcp never cover each other', () => {
  const bad: unknown[] = [
    { type: 'mcp', tools: [] },
    { type: 'mcp', tools: 'read_file' },
    { type: 'mcp', tools: ['read_file'], locations: AUD },
    { type: 'mcp', tools: ['re*ad'] },
    { type: 'mcp', tools: ['**'] },
    { type: 'mcp', tools: ['read_file'], arguments: [] },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { prefix: 'x', maxLength: 3 } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: {} } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { regex: '.*' } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { enum: [] } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { enum: [null] } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { enum: [{}] } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { range: { min: 5, max: 1 } } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { range: { min: '1' } } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { maxLength: -1 } } },
    { type: 'mcp', tools: ['read_file'], arguments: { a: { maxLength: 1.5 } } },
    { type: 'mcp', tools: ['read_file'], identifier: 'x' },
    { type: 'http', actions: ['POST'], paths: ['/**'] },
    null,
  ];
  for (const d of bad) {
    assert.equal(matchMcpToolCall([d as AuthorizationDetail], call('read_file', { a: 'x' })), false, JSON.stringify(d));
    if (d !== null && (d as { type?: string }).type === 'mcp')
      assert.throws(() => canonicalMcpDetail(d), McpDetailError, JSON.stringify(d));
  }
  const mcp: AuthorizationDetail[] = [{ type: 'mcp', tools: ['*'] }];
  const http: AuthorizationDetail[] = [{ type: 'http', actions: ['GET', 'POST'], paths: ['/**'] }];
  assert.equal(matchAuthorizationDetails(mcp, { resource: AUD, method: 'POST', path: '/' }), false);
  assert.equal(isSubsetOf(mcp, http), false);
  assert.equal(isSubsetOf(http, mcp), false);
  assert.equal(isSubsetOf([{ type: 'mcp', tools: ['x'] }], []), false);
});

test('canonicalMcpDetail removes duplicates and empty arguments', () => {
  assert.deepEqual(canonicalMcpDetail({ type: 'mcp', tools: ['a', 'b*', 'a'], arguments: {} }), { type: 'mcp', tools: ['a', 'b*'] });
  assert.deepEqual(
    canonicalMcpDetail({
      type: 'mcp',
      locations: [AUD, AUD],
      tools: ['a'],
      arguments: { x: { enum: ['v', 'v', 1] }, y: { range: { max: 3 } } },
    }),
    { type: 'mcp', locations: [AUD], tools: ['a'], arguments: { x: { enum: ['v', 1] }, y: { range: { max: 3 } } } },
  );
});

test('isSubsetOf for mcp: tools by prefix containment, constraints by implication', () => {
  const parent: AuthorizationDetail[] = [
    { type: 'mcp', tools: ['read*', 'search'], arguments: { path: { prefix: '/srv/' }, limit: { range: { min: 1, max: 100 } } } },
  ];
  const sub = (d: Omit<McpAuthorizationDetail, 'type'>): AuthorizationDetail[] => [{ type: 'mcp', ...d }];
  const cases: Array<[AuthorizationDetail[], boolean]> = [
    [sub({ tools: ['read_file'], arguments: { path: { prefix: '/srv/a/' }, limit: { range: { min: 1, max: 10 } } } }), true],
    [sub({ tools: ['readme*', 'search'], arguments: { path: { enum: ['/srv/x', '/srv/y'] }, limit: { enum: [5, 100] } } }), true],
    [
      sub({
        tools: ['read_file'],
        arguments: { path: { prefix: '/srv/' }, limit: { range: { min: 1, max: 100 } }, extra: { maxLength: 1 } },
      }),
      true,
    ],
    // A parent constraint the child does not repeat: the child would allow calls without it.
    [sub({ tools: ['read_file'], arguments: { path: { prefix: '/srv/a/' } } }), false],
    [sub({ tools: ['read_file'] }), false],
    [sub({ tools: ['rea*'], arguments: { path: { prefix: '/srv/' }, limit: { range: { min: 1, max: 100 } } } }), false],
    [sub({ tools: ['*'], arguments: { path: { prefix: '/srv/' }, limit: { range: { min: 1, max: 100 } } } }), false],
    [sub({ tools: ['search*'], arguments: { path: { prefix: '/srv/' }, limit: { range: { min: 1, max: 100 } } } }), false],
    [sub({ tools: ['read_file'], arguments: { path: { prefix: '/sr' }, limit: { range: { min: 1, max: 100 } } } }), false],
    [sub({ tools: ['read_file'], arguments: { path: { maxLength: 10 }, limit: { range: { min: 1, max: 100 } } } }), false],
    [
      sub({ tools: ['read_file'], arguments: { path: { enum: ['/srv/a', '/etc/passwd'] }, limit: { range: { min: 1, max: 100 } } } }),
      false,
    ],
    [sub({ tools: ['read_file'], arguments: { path: { prefix: '/srv/' }, limit: { range: { min: 1 } } } }), false],
    [sub({ tools: ['read_file'], arguments: { path: { prefix: '/srv/' }, limit: { range: { min: 0, max: 100 } } } }), false],
    [sub({ tools: ['read_file'], arguments: { path: { prefix: '/srv/' }, limit: { enum: [1, '2'] } } }), false],
  ];
  for (const [child, expected] of cases) assert.equal(isSubsetOf(child, parent), expected, JSON.stringify(child));

  // Constraint pairs across kinds.
  const one = (c: ArgumentConstraint): AuthorizationDetail[] => [{ type: 'mcp', tools: ['t'], arguments: { a: c } }];
  const pairs: Array<[ArgumentConstraint, ArgumentConstraint, boolean]> = [
    [{ enum: ['ab', 'abc'] }, { prefix: 'ab' }, true],
    [{ enum: ['ab', 'abc'] }, { maxLength: 3 }, true],
    [{ enum: ['ab', 'abcd'] }, { maxLength: 3 }, false],
    [{ enum: [1, 2] }, { range: { min: 1, max: 2 } }, true],
    [{ enum: [1, 2] }, { enum: [2, 1, 3] }, true],
    [{ enum: ['1'] }, { enum: [1] }, false],
    [{ maxLength: 2 }, { maxLength: 3 }, true],
    [{ maxLength: 4 }, { maxLength: 3 }, false],
    [{ maxLength: 2 }, { prefix: '' }, true],
    [{ maxLength: 2 }, { prefix: 'a' }, false],
    [{ maxLength: 0 }, { enum: [''] }, true],
    [{ prefix: 'abc' }, { prefix: 'ab' }, true],
    [{ prefix: 'abc' }, { maxLength: 100 }, false],
    [{ range: { min: 3, max: 3 } }, { enum: [3] }, true],
    [{ range: { min: 3, max: 4 } }, { enum: [3, 4] }, false],
    [{ range: { min: 3, max: 4 } }, { prefix: '' }, false],
  ];
  for (const [c, p, expected] of pairs) assert.equal(isSubsetOf(one(c), one(p)), expected, `${JSON.stringify(c)} ⇒ ${JSON.stringify(p)}`);

  // Per tool pattern: different parent details may cover different tools of one child detail, each with its own
  // constraints implied; but one tool pattern is never covered by a union of parent patterns.
  const split: AuthorizationDetail[] = [
    { type: 'mcp', tools: ['a*'], arguments: { x: { prefix: 'p' } } },
    { type: 'mcp', tools: ['b'], arguments: { y: { maxLength: 3 } } },
  ];
  assert.equal(isSubsetOf([{ type: 'mcp', tools: ['ab', 'b'], arguments: { x: { prefix: 'pq' }, y: { enum: ['abc'] } } }], split), true);
  assert.equal(isSubsetOf([{ type: 'mcp', tools: ['ab', 'b'], arguments: { x: { prefix: 'pq' } } }], split), false);
  assert.equal(isSubsetOf([{ type: 'mcp', tools: ['*'], arguments: { x: { prefix: 'p' }, y: { maxLength: 1 } } }], split), false);

  // Locations: as for http.
  assert.equal(isSubsetOf([{ type: 'mcp', locations: [AUD], tools: ['a'] }], [{ type: 'mcp', locations: [AUD], tools: ['*'] }]), true);
  assert.equal(isSubsetOf([{ type: 'mcp', tools: ['a'] }], [{ type: 'mcp', locations: [AUD], tools: ['*'] }]), false);
  assert.equal(isSubsetOf([{ type: 'mcp', locations: [OTHER], tools: ['a'] }], [{ type: 'mcp', locations: [AUD], tools: ['*'] }]), false);
  assert.equal(isSubsetOf([{ type: 'mcp', locations: [AUD], tools: ['a'] }], [{ type: 'mcp', tools: ['*'] }]), true);
});

// ---- randomized soundness of isSubsetOf against the matcher ------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOOL_NAMES = ['a', 'ab', 'abc', 'b', 'ba', 'c'];
const TOOL_PATTERNS = ['a', 'ab', 'abc', 'b', 'ba', 'a*', 'ab*', 'abc*', 'b*', '*'];
const ARG_NAMES = ['x', 'y', 'z'];
const STRINGS = ['', 'a', 'ab', 'abc', 'abcd', 'b', 'ba'];
const NUMBERS = [-1, 0, 1, 1.5, 2, 3, 10];
const SCALARS: ArgumentScalar[] = [...STRINGS, ...NUMBERS, true, false];
const VALUES: unknown[] = [...SCALARS, null, [], ['a'], {}, { a: 1 }, -0];
const LOCATION_SETS: Array<string[] | undefined> = [undefined, [AUD], [OTHER], [AUD, OTHER]];

function randomDetail(r: () => number, pick: <T>(xs: readonly T[]) => T): McpAuthorizationDetail {
  const tools = [...new Set(Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(TOOL_PATTERNS)))];
  const args: Record<string, ArgumentConstraint> = {};
  for (const name of ARG_NAMES) if (r() < 0.4) args[name] = randomConstraint(r, pick);
  const locations = pick(LOCATION_SETS);
  return {
    type: 'mcp',
    ...(locations !== undefined ? { locations } : {}),
    tools,
    ...(Object.keys(args).length > 0 ? { arguments: args } : {}),
  };
}

function randomConstraint(r: () => number, pick: <T>(xs: readonly T[]) => T): ArgumentConstraint {
  switch (Math.floor(r() * 4)) {
    case 0:
      return { enum: [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(SCALARS)))] };
    case 1:
      return { prefix: pick(STRINGS) };
    case 2: {
      const a = r() < 0.3 ? undefined : pick(NUMBERS);
      const b = r() < 0.3 ? undefined : pick(NUMBERS);
      const [min, max] = a !== undefined && b !== undefined && a > b ? [b, a] : [a, b];
      return { range: { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) } };
    }
    default:
      return { maxLength: Math.floor(r() * 5) };
  }
}

function randomCall(r: () => number, pick: <T>(xs: readonly T[]) => T) {
  const args: Record<string, unknown> = {};
  for (const name of ARG_NAMES) if (r() < 0.8) args[name] = pick(VALUES);
  return { resource: r() < 0.8 ? AUD : OTHER, tool: pick(TOOL_NAMES), arguments: args };
}

test('isSubsetOf is sound for mcp: when it says yes, no call the child allows escapes the parent (randomized)', () => {
  const seed = Number(process.env['WRIT_TEST_SEED'] ?? Date.now() % 1_000_000);
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  let yes = 0;
  let checkedCalls = 0;
  for (let round = 0; round < 4000; round++) {
    const parent = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomDetail(r, pick));
    // Half the children are derived from a parent detail, so that "yes" answers are common enough to test.
    const child =
      r() < 0.5 ? [narrow(pick(parent), r, pick)] : Array.from({ length: 1 + Math.floor(r() * 2) }, () => randomDetail(r, pick));
    if (!isSubsetOf(child, parent)) continue;
    yes++;
    for (let i = 0; i < 60; i++) {
      const c = randomCall(r, pick);
      if (matchMcpToolCall(child, c)) {
        checkedCalls++;
        assert.equal(matchMcpToolCall(parent, c), true, `seed ${seed}: ${JSON.stringify({ child, parent, call: c })}`);
      }
    }
  }
  assert.ok(yes > 500, `seed ${seed}: only ${yes} subset answers; the generator no longer exercises isSubsetOf`);
  assert.ok(checkedCalls > 2000, `seed ${seed}: only ${checkedCalls} calls checked`);
});

/** A child that is often, but not always, a subset of `d`: tools and constraints tightened or loosened at random. */
function narrow(d: McpAuthorizationDetail, r: () => number, pick: <T>(xs: readonly T[]) => T): McpAuthorizationDetail {
  const tools = r() < 0.7 ? (d.tools ?? []).filter(() => r() < 0.7) : [pick(TOOL_PATTERNS)];
  const args: Record<string, ArgumentConstraint> = { ...(d.arguments ?? {}) };
  for (const name of ARG_NAMES) {
    const x = r();
    if (x < 0.2) args[name] = randomConstraint(r, pick);
    else if (x < 0.3) delete args[name];
  }
  const locations = r() < 0.8 ? d.locations : pick(LOCATION_SETS);
  return {
    type: 'mcp',
    ...(locations !== undefined ? { locations } : {}),
    tools: tools.length > 0 ? tools : [pick(TOOL_PATTERNS)],
    ...(Object.keys(args).length > 0 ? { arguments: args } : {}),
  };
}
