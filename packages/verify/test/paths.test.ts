/** Request-path canonicalisation, path patterns, authorization-detail matching and structural attenuation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WritError, type AuthorizationDetail } from '@writ/protocol';
import { canonicalPathPattern, isSubsetOf, matchAuthorizationDetails, normalizeRequestPath, PathPatternError } from '../src/index.js';

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
