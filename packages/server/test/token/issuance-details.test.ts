/**
 * What a task token may hold: `parseRequestedDetails` (authorization_details and/or scope, fitted to the resource's
 * kind) and `evaluateIssuancePolicy` (Cedar per atom, scopes all or nothing) with a real policy engine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accessDetails, type AuthorizationDetail } from '@writ/protocol';
import { matchAuthorizationDetails, matchMcpToolCall } from '@writ/verify';
import { isSubsetOf } from '@writ/verify/internal';
import { OAuthError } from '../../src/errors/index.js';
import { createPolicyEngine, type PolicyEngine } from '../../src/policy/index.js';
import { resourceInput, type Agent, type Resource, type ResourceInput } from '../../src/register/index.js';
import type { VerifiedUser } from '../../src/identity/index.js';
import { parseRequestedDetails } from '../../src/token/exchange/parse-authorization-details.js';
import { evaluateIssuancePolicy } from '../../src/token/exchange/evaluate-issuance-policy.js';

const FILES_URI = 'https://writ.example/mcp/files';
const API_URI = 'https://writ.example/r/api';

function resourceOf(input: ResourceInput): Resource {
  const r = resourceInput.parse(input);
  return {
    id: r.id,
    kind: r.kind,
    baseUrl: r.baseUrl ?? '',
    mcp: null,
    secretId: null,
    inject: null,
    scopes: r.scopes ?? {},
    description: r.description,
    createdAt: 0,
    updatedAt: 0,
  };
}

const files = resourceOf({
  id: 'files',
  kind: 'mcp',
  baseUrl: 'https://mcp.example/mcp',
  scopes: {
    'files.read': [{ type: 'mcp', tools: ['read_file', 'list_dir'], arguments: { path: { prefix: '/srv/' } } }],
    'files.write': [{ type: 'mcp', tools: ['write_file'] }],
    'files.all': [{ type: 'mcp', tools: ['read_file', 'delete_file'] }],
  },
});
const api = resourceOf({
  id: 'api',
  baseUrl: 'https://api.example',
  scopes: {
    'projects.read': [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/*'] }],
    'projects.admin': [{ type: 'http', actions: ['GET', 'DELETE'], paths: ['/v1/projects/*'] }],
  },
});

const agent = { id: 'a1', name: 'Agent 1', owner: 'team-a', kind: 'agent', status: 'active' } as Agent;
const user: VerifiedUser = { userId: 'dev:alice', providerId: 'dev', sub: 'alice', issuer: 'https://idp.example', claims: {} };

const GRANTS = [
  {
    id: 'files-tools',
    text: `permit (principal == Writ::Agent::"a1", action == Writ::Action::"mcp_tool", resource == Writ::Resource::"files")
  when { ["read_file", "list_dir", "write_file", "search"].contains(context.tool) };`,
  },
  {
    id: 'api-read',
    text: `permit (principal == Writ::Agent::"a1", action == Writ::Action::"http", resource == Writ::Resource::"api")
  when { context.method == "GET" && context.path like "/v1/projects/*" };`,
  },
];

let engine: PolicyEngine;
before(async () => {
  engine = createPolicyEngine();
  await engine.load(GRANTS);
});
after(() => engine.close());

function refused(code: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof OAuthError, String(err));
    assert.equal(err.error, code, err.description);
    if (pattern !== undefined) assert.match(err.description, pattern);
    return true;
  };
}

async function issue(resource: Resource, uri: string, input: { authorization_details?: AuthorizationDetail[] | string; scope?: string }) {
  const raw = input.authorization_details;
  const { requested, scopes } = parseRequestedDetails(
    {
      ...(raw !== undefined ? { authorization_details: typeof raw === 'string' ? raw : JSON.stringify(raw) } : {}),
      ...(input.scope !== undefined ? { scope: input.scope } : {}),
    },
    resource,
    uri,
  );
  return {
    requested,
    decision: await evaluateIssuancePolicy(
      { agent, user, resource, resourceUri: uri, requested, scopes, purpose: 'test', depth: 0 },
      engine,
    ),
  };
}

describe('parseRequestedDetails', () => {
  test('a task starts with nothing: neither authorization_details nor scope is invalid_request', () => {
    assert.throws(() => parseRequestedDetails({}, files, FILES_URI), refused('invalid_request', /a task starts with nothing/));
  });

  test('scope: split on single spaces, repeats count once, each expands to its details at the resource', () => {
    const r = parseRequestedDetails({ scope: 'files.write files.read files.write' }, files, FILES_URI);
    assert.deepEqual(r.scopes, ['files.write', 'files.read']);
    assert.deepEqual(r.requested, [
      { type: 'mcp', tools: ['write_file'], locations: [FILES_URI] },
      { type: 'mcp', tools: ['read_file', 'list_dir'], arguments: { path: { prefix: '/srv/' } }, locations: [FILES_URI] },
    ]);
    const both = parseRequestedDetails(
      { authorization_details: JSON.stringify([{ type: 'mcp', tools: ['search'] }]), scope: 'files.write' },
      files,
      FILES_URI,
    );
    assert.deepEqual(
      both.requested.map((d) => (d.type === 'mcp' ? d.tools : [])),
      [['search'], ['write_file']],
    );
  });

  test('unknown or malformed scopes are invalid_scope', () => {
    for (const scope of ['files.nope', 'files.read files.nope', '__proto__', 'constructor', 'toString', 'projects.read']) {
      assert.throws(() => parseRequestedDetails({ scope }, files, FILES_URI), refused('invalid_scope', /unknown scope/), scope);
    }
    for (const scope of ['files.read  files.write', ' files.read', 'files.read ', 'files"read', 'files\\read', 'files.réad', 'a\tb']) {
      assert.throws(() => parseRequestedDetails({ scope }, files, FILES_URI), refused('invalid_scope', /malformed/), JSON.stringify(scope));
    }
  });

  test('a detail type that does not fit the resource kind is invalid_authorization_details', () => {
    const mcp = JSON.stringify([{ type: 'mcp', tools: ['search'] }]);
    const http = JSON.stringify([{ type: 'http', actions: ['GET'], paths: ['/'] }]);
    assert.throws(
      () => parseRequestedDetails({ authorization_details: mcp }, api, API_URI),
      refused('invalid_authorization_details', /does not fit/),
    );
    assert.throws(
      () => parseRequestedDetails({ authorization_details: http }, files, FILES_URI),
      refused('invalid_authorization_details', /does not fit/),
    );
    assert.equal(parseRequestedDetails({ authorization_details: http }, api, API_URI).requested.length, 1);
  });

  test('mcp details are validated and canonical; locations must name the resource', () => {
    const ok = parseRequestedDetails(
      {
        authorization_details: JSON.stringify([
          { type: 'mcp', locations: [FILES_URI], tools: ['read*', 'read*'], arguments: { path: { enum: ['/a', '/a', 1] } } },
        ]),
      },
      files,
      FILES_URI,
    );
    assert.deepEqual(ok.requested, [{ type: 'mcp', locations: [FILES_URI], tools: ['read*'], arguments: { path: { enum: ['/a', 1] } } }]);
    const bad: unknown[] = [
      { type: 'mcp', tools: [] },
      { type: 'mcp', tools: ['read file'] },
      { type: 'mcp', tools: ['read_file'], arguments: { path: { regex: '^/srv' } } },
      { type: 'mcp', tools: ['read_file'], arguments: { path: { prefix: '/srv', maxLength: 9 } } },
      { type: 'mcp', tools: ['read_file'], actions: ['tools/call'] },
      { type: 'mcp', locations: [API_URI], tools: ['read_file'] },
    ];
    for (const d of bad) {
      assert.throws(
        () => parseRequestedDetails({ authorization_details: JSON.stringify([d]) }, files, FILES_URI),
        refused('invalid_authorization_details'),
        JSON.stringify(d),
      );
    }
    // A constraint on `__proto__` would vanish in ordinary object handling; it is refused, not dropped.
    const proto = '[{"type":"mcp","tools":["read_file"],"arguments":{"__proto__":{"prefix":"/srv/"}}}]';
    assert.throws(
      () => parseRequestedDetails({ authorization_details: proto }, files, FILES_URI),
      refused('invalid_authorization_details', /__proto__/),
    );
  });
});

describe('evaluateIssuancePolicy', () => {
  test('mcp atoms keep their own argument constraints: nothing lost, nothing lent to another detail', async () => {
    const asked: AuthorizationDetail[] = [
      { type: 'mcp', tools: ['read_file', 'delete_file'], arguments: { path: { prefix: '/srv/a/' } } },
      { type: 'mcp', tools: ['read_file'], arguments: { path: { prefix: '/tmp/' }, mode: { enum: ['ro'] } } },
      { type: 'mcp', tools: ['search', 'list_dir'] },
      { type: 'mcp', tools: ['list_dir'], arguments: { path: { prefix: '/srv/a/' } } },
    ];
    const { requested, decision } = await issue(files, FILES_URI, { authorization_details: asked });
    assert.deepEqual(decision.granted, [
      { type: 'mcp', locations: [FILES_URI], tools: ['read_file', 'list_dir'], arguments: { path: { prefix: '/srv/a/' } } },
      { type: 'mcp', locations: [FILES_URI], tools: ['read_file'], arguments: { path: { prefix: '/tmp/' }, mode: { enum: ['ro'] } } },
      { type: 'mcp', locations: [FILES_URI], tools: ['search', 'list_dir'] },
    ]);
    assert.deepEqual(decision.denied, ['tool delete_file']);
    assert.deepEqual(decision.grantedScopes, []);
    assert.deepEqual(decision.reasons, ['files-tools.0']);
    assert.ok(isSubsetOf(accessDetails(decision.granted), requested), 'the token never holds more than was asked');
    const can = (tool: string, args: Record<string, unknown>) =>
      matchMcpToolCall(decision.granted, { resource: FILES_URI, tool, arguments: args });
    assert.equal(can('read_file', { path: '/srv/a/x' }), true);
    assert.equal(can('read_file', { path: '/tmp/x', mode: 'ro' }), true);
    assert.equal(can('read_file', { path: '/tmp/x' }), false, 'the /tmp/ grant needs mode');
    assert.equal(can('read_file', { path: '/etc/passwd' }), false);
    assert.equal(can('delete_file', { path: '/srv/a/x' }), false);
    assert.equal(can('search', {}), true);
  });

  test('a scope is all or nothing: partly denied, it is not granted and contributes nothing', async () => {
    const { decision } = await issue(files, FILES_URI, { scope: 'files.read files.all' });
    assert.deepEqual(decision.grantedScopes, ['files.read']);
    assert.deepEqual(decision.denied, ['scope files.all', 'tool delete_file']);
    assert.deepEqual(decision.granted, [
      { type: 'mcp', locations: [FILES_URI], tools: ['read_file', 'list_dir'], arguments: { path: { prefix: '/srv/' } } },
    ]);
    // read_file of files.all (unconstrained) was permitted on its own, but the scope was not granted: not in the token.
    assert.equal(matchMcpToolCall(decision.granted, { resource: FILES_URI, tool: 'read_file', arguments: { path: '/etc/passwd' } }), false);

    const mixed = await issue(files, FILES_URI, { authorization_details: [{ type: 'mcp', tools: ['search'] }], scope: 'files.all' });
    assert.deepEqual(mixed.decision.grantedScopes, []);
    assert.deepEqual(mixed.decision.granted, [{ type: 'mcp', locations: [FILES_URI], tools: ['search'] }]);

    await assert.rejects(issue(files, FILES_URI, { scope: 'files.all' }), refused('invalid_scope', /no grant permits the requested scope/));
  });

  test('http scopes: atoms are (method, path); explicitly asked atoms survive a denied scope', async () => {
    const { decision } = await issue(api, API_URI, { scope: 'projects.read projects.admin' });
    assert.deepEqual(decision.grantedScopes, ['projects.read']);
    assert.deepEqual(decision.denied, ['scope projects.admin', 'DELETE /v1/projects/*']);
    assert.deepEqual(decision.granted, [{ type: 'http', locations: [API_URI], actions: ['GET'], paths: ['/v1/projects/*'] }]);

    const explicit = await issue(api, API_URI, {
      authorization_details: [{ type: 'http', actions: ['GET', 'POST'], paths: ['/v1/projects/*'] }],
      scope: 'projects.admin',
    });
    assert.deepEqual(explicit.decision.grantedScopes, []);
    assert.deepEqual(explicit.decision.denied, ['POST /v1/projects/*', 'scope projects.admin', 'DELETE /v1/projects/*']);
    assert.deepEqual(explicit.decision.granted, [{ type: 'http', locations: [API_URI], actions: ['GET'], paths: ['/v1/projects/*'] }]);
    const path = '/v1/projects/7';
    assert.equal(matchAuthorizationDetails(explicit.decision.granted, { resource: API_URI, method: 'GET', path }), true);
    assert.equal(matchAuthorizationDetails(explicit.decision.granted, { resource: API_URI, method: 'DELETE', path }), false);
  });

  test('nothing granted: invalid_authorization_details, naming nothing of the policy on the wire', async () => {
    await assert.rejects(
      issue(files, FILES_URI, { authorization_details: [{ type: 'mcp', tools: ['delete_file', 'read*'] }] }),
      (err: unknown) => {
        refused('invalid_authorization_details', /no grant permits the requested authorization details/)(err);
        assert.equal((err as OAuthError).detail, 'denied: tool delete_file, tool read*');
        return true;
      },
    );
  });

  test('requested must be what parseRequestedDetails returned for those scopes', async () => {
    const { requested, scopes } = parseRequestedDetails({ scope: 'files.read' }, files, FILES_URI);
    await assert.rejects(
      evaluateIssuancePolicy(
        { agent, user, resource: files, resourceUri: FILES_URI, requested: requested.slice(1), scopes, purpose: 't', depth: 0 },
        engine,
      ),
      TypeError,
    );
  });
});

describe('the task budget (writ_budget)', () => {
  let budgeted: PolicyEngine;
  before(async () => {
    budgeted = createPolicyEngine();
    await budgeted.load([
      {
        id: 'api-read',
        text: `@budget("calls=50, calls_per_minute=10")
permit (principal == Writ::Agent::"a1", action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.method == "GET" };`,
      },
      {
        id: 'api-read-tight',
        text: `@budget("calls=20, user_calls_per_minute=5")
permit (principal == Writ::Agent::"a1", action == Writ::Action::"http", resource == Writ::Resource::"api") when { context.path like "/v1/projects/*" };`,
      },
    ]);
  });
  after(() => budgeted.close());

  const budgetFor = async (requested: unknown[], parentBudget?: { type: 'writ_budget'; calls?: number; calls_per_action?: number }) => {
    const parsed = parseRequestedDetails({ authorization_details: JSON.stringify(requested) }, api, API_URI);
    const d = await evaluateIssuancePolicy(
      { agent, user, resource: api, resourceUri: API_URI, requested: parsed.requested, scopes: [], purpose: '', depth: 0, parentBudget },
      budgeted,
    );
    return d.granted.find((x) => x.type === 'writ_budget');
  };

  test('the tightest limit of every @budget grant behind what was granted; per-user limits stay out of the token', async () => {
    assert.deepEqual(await budgetFor([{ type: 'http', actions: ['GET'], paths: ['/v1/projects/1'] }]), {
      type: 'writ_budget',
      calls: 20,
      calls_per_minute: 10,
    });
    // Only api-read permits this path: its budget alone.
    assert.deepEqual(await budgetFor([{ type: 'http', actions: ['GET'], paths: ['/v1/other'] }]), {
      type: 'writ_budget',
      calls: 50,
      calls_per_minute: 10,
    });
  });

  test('the request and the parent task narrow it; neither widens it', async () => {
    const get = { type: 'http', actions: ['GET'], paths: ['/v1/other'] };
    assert.deepEqual(await budgetFor([get, { type: 'writ_budget', calls: 3, calls_per_action: 1 }]), {
      type: 'writ_budget',
      calls: 3,
      calls_per_minute: 10,
      calls_per_action: 1,
    });
    assert.deepEqual(await budgetFor([get, { type: 'writ_budget', calls: 500 }], { type: 'writ_budget', calls: 7 }), {
      type: 'writ_budget',
      calls: 7,
      calls_per_minute: 10,
    });
  });

  test('with no @budget anywhere, a task asking for none has none', async () => {
    const d = await evaluateIssuancePolicy(
      {
        agent,
        user,
        resource: api,
        resourceUri: API_URI,
        requested: [{ type: 'http', actions: ['GET'], paths: ['/v1/projects/1'], locations: [API_URI] }],
        scopes: [],
        purpose: '',
        depth: 0,
      },
      engine,
    );
    assert.equal(
      d.granted.find((x) => x.type === 'writ_budget'),
      undefined,
    );
  });
});
