/**
 * Resources of kind `http` or `mcp` with scopes (RFC 6749 §3.3 names → authorization details of the resource's
 * kind), validated and put in canonical form at registration, stored as JSON, read back the same on every store.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminError } from '../../src/errors/index.js';
import { Register, type ResourceInput } from '../../src/register/index.js';
import { describeEachStore, type TestStore } from '../helpers/stores.js';

describeEachStore('resource kinds and scopes', (kind) => {
  let store: TestStore;
  let register: Register;
  before(async () => {
    store = await kind.open();
    register = new Register({
      db: store.db,
      policy: { validate: async () => ({ ok: true, policyCount: 0 }), toolActions: async () => [], load: async () => 0 },
      audit: { record: () => undefined },
      now: () => 1_700_000_000_000,
    });
  });
  after(() => store?.dispose());

  test('an mcp resource with scopes round-trips in canonical form; a resource without scopes has {}', async () => {
    const created = await register.createResource(
      {
        id: 'files',
        kind: 'mcp',
        baseUrl: 'https://mcp.example/mcp',
        scopes: {
          'files:read': [{ type: 'mcp', tools: ['read_file', 'read_file', 'list*'], arguments: { path: { prefix: '/srv/' } } }],
          'files:all': [{ type: 'mcp', tools: ['*'], arguments: {} }],
        },
      },
      'admin',
    );
    const expected = {
      'files:read': [{ type: 'mcp', tools: ['read_file', 'list*'], arguments: { path: { prefix: '/srv/' } } }],
      'files:all': [{ type: 'mcp', tools: ['*'] }],
    };
    assert.equal(created.kind, 'mcp');
    assert.deepEqual(created.scopes, expected);
    assert.deepEqual((await register.getResource('files')).scopes, expected);

    const api = await register.createResource(
      {
        id: 'api',
        baseUrl: 'https://api.example',
        scopes: { read: [{ type: 'http', actions: ['GET', 'GET'], paths: ['/v1/%7eprojects/*'] }] },
      },
      'admin',
    );
    assert.equal(api.kind, 'http');
    assert.deepEqual(api.scopes, { read: [{ type: 'http', actions: ['GET'], paths: ['/v1/~projects/*'] }] });
    assert.deepEqual((await register.createResource({ id: 'plain', baseUrl: 'https://plain.example' }, 'admin')).scopes, {});
  });

  test('invalid scopes are refused at registration', async () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`s${i}`, [{ type: 'http', actions: ['GET'], paths: ['/'] }]]));
    const bad: Array<[string, ResourceInput]> = [
      ['detail of the other kind', { id: 'x1', baseUrl: 'https://x.example', scopes: { s: [{ type: 'mcp', tools: ['t'] }] } }],
      [
        'http detail on mcp',
        { id: 'x2', kind: 'mcp', baseUrl: 'https://x.example', scopes: { s: [{ type: 'http', actions: ['GET'], paths: ['/'] }] } },
      ],
      [
        'scope name with a space',
        { id: 'x3', baseUrl: 'https://x.example', scopes: { 'a b': [{ type: 'http', actions: ['GET'], paths: ['/'] }] } },
      ],
      [
        'scope name with a quote',
        { id: 'x4', baseUrl: 'https://x.example', scopes: { 'a"b': [{ type: 'http', actions: ['GET'], paths: ['/'] }] } },
      ],
      ['empty bundle', { id: 'x5', baseUrl: 'https://x.example', scopes: { s: [] } }],
      [
        'locations in a scope',
        { id: 'x6', baseUrl: 'https://x.example', scopes: { s: [{ type: 'http', locations: ['x'], actions: ['GET'], paths: ['/'] }] } },
      ],
      [
        'bad path pattern',
        { id: 'x7', baseUrl: 'https://x.example', scopes: { s: [{ type: 'http', actions: ['GET'], paths: ['/a/../b'] }] } },
      ],
      ['bad tool', { id: 'x8', kind: 'mcp', baseUrl: 'https://x.example', scopes: { s: [{ type: 'mcp', tools: ['a b'] }] } }],
      [
        'bad constraint',
        {
          id: 'x9',
          kind: 'mcp',
          baseUrl: 'https://x.example',
          scopes: { s: [{ type: 'mcp', tools: ['t'], arguments: { a: { regex: 'x' } } }] },
        },
      ],
      ['too many scopes', { id: 'x10', baseUrl: 'https://x.example', scopes: many }],
      [
        '__proto__ scope',
        { id: 'x11', baseUrl: 'https://x.example', scopes: JSON.parse('{"__proto__":[{"type":"http","actions":["GET"],"paths":["/"]}]}') },
      ],
      ['unknown kind', { id: 'x12', kind: 'grpc' as 'http', baseUrl: 'https://x.example' }],
    ];
    for (const [what, input] of bad) {
      await assert.rejects(
        register.createResource(input, 'admin'),
        (e: unknown) => e instanceof AdminError && e.code === 'ERR_ADMIN_INVALID_REQUEST',
        what,
      );
    }
  });
});
