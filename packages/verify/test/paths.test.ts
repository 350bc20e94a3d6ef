/** Request-path canonicalisation, path patterns, authorization-detail matching and structural attenuation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WritError, type AuthorizationDetail } from '@writ/protocol';
import { matchAuthorizationDetails, MAX_PATH_LENGTH, normalizeRequestPath } from '../src/index.js';
import { canonicalPathPattern, compilePathPattern, isSubsetOf, PathPatternError } from '../src/internal.js';

test('canonical request paths', () => {
  const ok: Array<[string, string]> = [
    ['/', '/'],
    ['/v1/projects', '/v1/projects'],
    ['/v1/%61bc', '/v1/abc'],
    ['/v1/a%2ab', '/v1/a%2Ab'],
    ['/v1/%7e', '/v1/~'],
    ['/v1/projects/', '/v1/projects/'],
    ["/v1/a:b@c!$&'()*+,;=", "/v1/a:b@c!$&'()*+,;="],
    ['/v1/%C3%A9', '/v1/%C3%A9'],
  ];
  for (const [raw, canonical] of ok) assert.equal(normalizeRequestPath(raw), canonical, raw);
});

test('ambiguous paths are refused with ERR_PATH_INVALID', () => {
  const bad = [
    '/v1/..',
    '/v1/../admin',
    '/v1/./x',
    '/v1/%2e%2e/admin',
    '/v1/%2E%2e/admin',
    '/v1/.%2e/admin',
    '/v1/%2e./admin',
    '/v1/%2e',
    '//v1',
    '/v1//x',
    '/v1/a%2fb',
    '/v1/a%2Fb',
    '/v1/a%5cb',
    '/v1/a\\b',
    '/v1/a%00',
    '/v1/a%0a',
    '/v1/a%7f',
    '/v1/%zz',
    '/v1/%2',
    '/v1/a b',
    '/v1/é',
    `/${'a'.repeat(4097)}`,
    'v1/x',
    '',
  ];
  for (const raw of bad) {
    assert.throws(
      () => normalizeRequestPath(raw),
      (e: unknown) => e instanceof WritError && e.code === 'ERR_PATH_INVALID',
      JSON.stringify(raw),
    );
  }
});

test('path patterns: valid, canonical, and refused', () => {
  assert.equal(canonicalPathPattern('/v1/*'), '/v1/*');
  assert.equal(canonicalPathPattern('/v1/**'), '/v1/**');
  assert.equal(canonicalPathPattern('/'), '/');
  assert.equal(canonicalPathPattern('/v1/%61'), '/v1/a');
  for (const bad of ['/v1/**/x', '/v1/a*', '/v1/../x', '//', '/v1/', 'v1', '/v1/%2f'])
    assert.throws(() => canonicalPathPattern(bad), PathPatternError, bad);
});

const R = 'https://writ.example/r/api';
function allows(details: AuthorizationDetail[], method: string, path: string): boolean {
  return matchAuthorizationDetails(details, { resource: R, method, path });
}

test('matching: * is one non-empty segment, ** zero or more, literals exact, methods and locations respected', () => {
  const d: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*', '/files/**', '/exact'] }];
  const table: Array<[string, string, boolean]> = [
    ['GET', '/v1/projects/1', true],
    ['GET', '/v1/projects', false],
    ['GET', '/v1/projects/', false],
    ['GET', '/v1/projects/1/members', false],
    ['GET', '/files', true],
    ['GET', '/files/', true],
    ['GET', '/files/a/b/c', true],
    ['GET', '/exact', true],
    ['GET', '/exact/', false],
    ['GET', '/exactly', false],
    ['POST', '/exact', false],
    ['get', '/exact', false],
  ];
  for (const [m, p, expected] of table) assert.equal(allows(d, m, p), expected, `${m} ${p}`);
  assert.equal(
    allows([{ type: 'http', locations: ['https://writ.example/r/other'], actions: ['GET'], paths: ['/**'] }], 'GET', '/x'),
    false,
    'another location',
  );
  assert.equal(allows([], 'GET', '/'), false, 'nothing granted, nothing allowed');
  assert.equal(allows([{ type: 'mcp', tools: ['x'] }], 'GET', '/'), false, 'other types never match HTTP calls');
  assert.equal(
    allows([{ type: 'http', actions: ['GET'], paths: ['/v1/../admin'] }], 'GET', '/admin'),
    false,
    'an invalid pattern grants nothing',
  );
});

test('isSubsetOf decides attenuation structurally', () => {
  const parent: AuthorizationDetail[] = [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/**'] }];
  const cases: Array<[AuthorizationDetail[], boolean]> = [
    [[{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }], true],
    [[{ type: 'http', actions: ['GET'], paths: ['/v1/x/y'] }], true],
    [[{ type: 'http', actions: ['GET'], paths: ['/v1/**'] }], true],
    [[{ type: 'http', actions: ['DELETE'], paths: ['/v1/*'] }], false],
    [[{ type: 'http', actions: ['GET'], paths: ['/v2/*'] }], false],
    [[{ type: 'http', actions: ['GET'], paths: ['/**'] }], false],
    [[{ type: 'mcp', tools: ['x'] }], false],
    [[], true],
  ];
  for (const [child, expected] of cases) assert.equal(isSubsetOf(child, parent), expected, JSON.stringify(child));
  assert.equal(
    isSubsetOf([{ type: 'http', actions: ['GET'], paths: ['/v1/**'] }], [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }]),
    false,
  );
  assert.equal(
    isSubsetOf([{ type: 'http', actions: ['GET'], paths: ['/v1/a'] }], [{ type: 'http', actions: ['GET'], paths: ['/v1/*'] }]),
    true,
  );
  assert.equal(
    isSubsetOf(
      [{ type: 'http', locations: ['a'], actions: ['GET'], paths: ['/x'] }],
      [{ type: 'http', locations: ['b'], actions: ['GET'], paths: ['/x'] }],
    ),
    false,
  );
});

test('canonical request paths: more spellings, and the length limit', () => {
  const ok: Array<[string, string]> = [
    ['/v1/%41%62', '/v1/Ab'],
    ['/v1/%2A', '/v1/%2A'],
    ['/v1/%2a', '/v1/%2A'],
    ['/v1/%25', '/v1/%25'],
    ['/v1/%3f', '/v1/%3F'],
    ['/v1/%2d%2E%5f%7E', '/v1/-._~'],
    ['/a/', '/a/'],
    ['/.well-known/x', '/.well-known/x'],
    ['/v1/...', '/v1/...'],
    ['/v1/a.', '/v1/a.'],
    [`/${'a'.repeat(4095)}`, `/${'a'.repeat(4095)}`],
  ];
  for (const [raw, canonical] of ok) assert.equal(normalizeRequestPath(raw), canonical, raw.slice(0, 40));
  assert.equal(MAX_PATH_LENGTH, 4096);
  // Canonicalisation is idempotent.
  for (const [raw] of ok) assert.equal(normalizeRequestPath(normalizeRequestPath(raw)), normalizeRequestPath(raw));
  const bad = [
    '/v1/a/..',
    '/v1/a/.',
    '/./',
    '/../',
    '/v1/%2e%2E',
    '/v1//',
    '/v1/%2',
    '/v1/%',
    '/v1/a%0D',
    '/v1/%1f',
    '/v1/a\tb',
    '/v1/a?b',
    '/v1/a#b',
    '/v1/"',
    '/v1/<x>',
    '/v1/a%5Cb',
    '/v1/\u0000',
    '\\v1',
  ];
  for (const raw of bad)
    assert.throws(
      () => normalizeRequestPath(raw),
      (e: unknown) => e instanceof WritError && e.code === 'ERR_PATH_INVALID',
      JSON.stringify(raw),
    );
});

test('path patterns: more valid and invalid spellings', () => {
  for (const [p, c] of [
    ['/**', '/**'],
    ['/v1/*/x', '/v1/*/x'],
    ['/v1/*/*', '/v1/*/*'],
    ['/v1/%2a', '/v1/%2A'],
    ['/v1/%7e', '/v1/~'],
  ] as const)
    assert.equal(canonicalPathPattern(p), c, p);
  for (const bad of [
    '',
    '/v1/**/**',
    '/**/x',
    '/v1/*a',
    '/v1/a**',
    '/v1/./x',
    '/v1/%2e%2e/x',
    '/v1/a b',
    '/v1//x',
    '/v1/a%5cb',
    '/v1/?',
    '*',
  ])
    assert.throws(() => canonicalPathPattern(bad), PathPatternError, JSON.stringify(bad));
  // compilePathPattern gives the segments.
  assert.deepEqual(compilePathPattern('/v1/*/**'), ['v1', '*', '**']);
  assert.deepEqual(compilePathPattern('/'), ['']);
});

test('matching table: the three segment kinds, root, trailing slashes, encodings', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/', '/', true],
    ['/', '/x', false],
    ['/**', '/', true],
    ['/**', '/x/y/', true],
    ['/*', '/', false],
    ['/*', '/x', true],
    ['/*', '/x/', false],
    ['/v1/**', '/v1', true],
    ['/v1/**', '/v1/', true],
    ['/v1/**', '/v1x', false],
    ['/v1/**', '/v2/a', false],
    ['/v1/*/x', '/v1/a/x', true],
    ['/v1/*/x', '/v1/a/b/x', false],
    ['/v1/*/x', '/v1/a/x/', false],
    ['/v1/a', '/v1/A', false],
    ['/v1/%2A', normalizeRequestPath('/v1/%2a'), true],
    ['/v1/%2A', '/v1/*', false],
    ['/v1/~', normalizeRequestPath('/v1/%7E'), true],
    ['/v1/x', '/v1/x/', false],
  ];
  for (const [pattern, path, expected] of cases)
    assert.equal(allows([{ type: 'http', actions: ['GET'], paths: [pattern] }], 'GET', path), expected, `${pattern} vs ${path}`);
});

test('matchAuthorizationDetails: methods, locations, types, invalid details', () => {
  const d = (extra: Record<string, unknown>): AuthorizationDetail => ({ type: 'http', actions: ['GET'], paths: ['/**'], ...extra });
  assert.equal(allows([d({ locations: [R] })], 'GET', '/x'), true, 'this location');
  assert.equal(allows([d({ locations: ['https://writ.example/r/other', R] })], 'GET', '/x'), true, 'one of the locations');
  assert.equal(allows([d({ locations: [] })], 'GET', '/x'), false, 'no location');
  assert.equal(allows([d({ locations: [`${R}/`] })], 'GET', '/x'), false, 'locations compare exactly');
  assert.equal(allows([d({ actions: ['GET', 'POST'] })], 'POST', '/x'), true);
  assert.equal(allows([d({ actions: [] })], 'GET', '/x'), false, 'no action');
  assert.equal(allows([d({ paths: [] })], 'GET', '/x'), false, 'no path');
  assert.equal(allows([d({ paths: undefined })], 'GET', '/x'), false, 'paths missing');
  assert.equal(allows([d({ paths: ['/v1/**/x', '/x'] })], 'GET', '/x'), false, 'one invalid pattern voids the whole detail');
  assert.equal(allows([d({ paths: ['/v1/../x'] }), d({ paths: ['/x'] })], 'GET', '/x'), true, 'but not the others');
  assert.equal(allows([d({ type: 'HTTP' })], 'GET', '/x'), false, 'type compares exactly');
  assert.equal(allows([d({ actions: undefined })], 'GET', '/x'), false, 'actions missing');
  assert.equal(
    allows([{ type: 'openid_credential', format: 'x' } as unknown as AuthorizationDetail, d({})], 'GET', '/x'),
    true,
    'unknown types are skipped',
  );
});

test('isSubsetOf: a table of contained and not contained pairs', () => {
  const h = (paths: string[], actions = ['GET'], locations?: string[]): AuthorizationDetail =>
    ({ type: 'http', actions, paths, ...(locations !== undefined ? { locations } : {}) }) as AuthorizationDetail;
  const table: Array<[string, AuthorizationDetail[], AuthorizationDetail[], boolean]> = [
    ['/v1/* ⊆ /v1/**', [h(['/v1/*'])], [h(['/v1/**'])], true],
    ['/v1/** ⊄ /v1/*', [h(['/v1/**'])], [h(['/v1/*'])], false],
    ['/v1/x ⊆ /v1/*', [h(['/v1/x'])], [h(['/v1/*'])], true],
    ['/v1/* ⊄ /v1/x', [h(['/v1/*'])], [h(['/v1/x'])], false],
    ['/v1 ⊆ /v1/**', [h(['/v1'])], [h(['/v1/**'])], true],
    ['/v1/*/x ⊆ /v1/**', [h(['/v1/*/x'])], [h(['/v1/**'])], true],
    ['/v1/*/x ⊆ /v1/*/*', [h(['/v1/*/x'])], [h(['/v1/*/*'])], true],
    ['/v1/*/* ⊄ /v1/*/x', [h(['/v1/*/*'])], [h(['/v1/*/x'])], false],
    ['/ ⊆ /**', [h(['/'])], [h(['/**'])], true],
    ['/ ⊄ /*', [h(['/'])], [h(['/*'])], false],
    ['/** ⊄ /', [h(['/**'])], [h(['/'])], false],
    ['/** ⊆ /**', [h(['/**'])], [h(['/**'])], true],
    ['two child paths covered by two parent details', [h(['/a', '/b/c'])], [h(['/a']), h(['/b/*'])], true],
    ['one child path not covered', [h(['/a', '/c'])], [h(['/a']), h(['/b/*'])], false],
    ['GET ⊆ GET,POST', [h(['/x'])], [h(['/x'], ['GET', 'POST'])], true],
    ['GET,POST ⊄ GET', [h(['/x'], ['GET', 'POST'])], [h(['/x'])], false],
    ['GET,POST ⊆ GET + POST in two details', [h(['/x'], ['GET', 'POST'])], [h(['/x']), h(['/x'], ['POST'])], true],
    ['method and path must come from the same parent', [h(['/y'], ['POST'])], [h(['/y']), h(['/x'], ['POST'])], false],
    ['located ⊆ unlocated', [h(['/x'], ['GET'], ['a'])], [h(['/x'])], true],
    ['unlocated ⊄ located', [h(['/x'])], [h(['/x'], ['GET'], ['a'])], false],
    ['[a] ⊆ [a, b]', [h(['/x'], ['GET'], ['a'])], [h(['/x'], ['GET'], ['a', 'b'])], true],
    ['[a, b] ⊄ [a]', [h(['/x'], ['GET'], ['a', 'b'])], [h(['/x'], ['GET'], ['a'])], false],
    ['child of an unknown type', [{ type: 'mcp', tools: ['x'] } as unknown as AuthorizationDetail], [h(['/**'])], false],
    ['parent of an unknown type covers nothing', [h(['/x'])], [{ type: 'mcp', tools: ['x'] } as unknown as AuthorizationDetail], false],
    ['child with an invalid pattern', [h(['/v1/../x'])], [h(['/**'])], false],
    ['parent with an invalid pattern', [h(['/x'])], [h(['/x', '/v1/**/y'])], false],
    ['child with paths missing', [{ type: 'http', actions: ['GET'] } as unknown as AuthorizationDetail], [h(['/**'])], false],
    ['nothing ⊆ anything', [], [], true],
    ['something ⊄ nothing', [h(['/x'])], [], false],
  ];
  for (const [name, child, parent, expected] of table) assert.equal(isSubsetOf(child, parent), expected, name);
  // Consistency with matching: whatever a contained child allows, the parent allows.
  const paths = ['/', '/v1', '/v1/', '/v1/x', '/v1/x/y', '/v1/a/x', '/a', '/b/c', '/x', '/y'];
  for (const [name, child, parent, expected] of table) {
    if (!expected) continue;
    for (const method of ['GET', 'POST'])
      for (const path of paths)
        if (matchAuthorizationDetails(child, { resource: 'a', method, path }))
          assert.ok(matchAuthorizationDetails(parent, { resource: 'a', method, path }), `${name}: ${method} ${path}`);
  }
});
