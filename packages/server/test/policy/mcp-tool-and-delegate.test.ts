/**
 * Actions `mcp_tool` (a tool of an MCP resource; at issuance `context.tool` is the pattern as written) and
 * `delegate` (parent agent → child agent): their request builders, grants that permit and forbid them, and the
 * call-decision cache keyed on `context.tool`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createCallDecisionCache,
  createPolicyEngine,
  delegateRequest,
  mcpToolRequest,
  type AgentAttrs,
  type PolicyEngine,
} from '../../src/policy/index.js';
import { request } from './fixtures/requests.js';

let engine: PolicyEngine;
before(() => {
  engine = createPolicyEngine();
});
after(() => engine.close());

const agent = (id: string, owner = 'team-a'): AgentAttrs => ({ id, name: id, owner, kind: 'agent', status: 'active' });
const ALICE = { idp: 'dev', sub: 'alice' };

function tool(name: string, o: { agent?: string; resource?: string; purpose?: string } = {}) {
  return mcpToolRequest({
    agent: agent(o.agent ?? 'a1'),
    user: ALICE,
    resource: { id: o.resource ?? 'files', kind: 'mcp', name: o.resource ?? 'files' },
    tool: name,
    purpose: o.purpose ?? 'triage',
    depth: 0,
  });
}

const SEARCH = `permit (
  principal == Writ::Agent::"a1",
  action == Writ::Action::"mcp_tool",
  resource == Writ::Resource::"files"
) when { context.user == Writ::User::"dev:alice" && context.tool == "search" };`;

const READ_BUT_NOT_SECRETS = `permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"files") when { context.tool like "read*" };
forbid (principal, action == Writ::Action::"mcp_tool", resource) when { context.tool == "read_secrets" };`;

test('mcp_tool grants validate against the schema; a misspelt context attribute does not', async () => {
  assert.deepEqual(await engine.validate(SEARCH), { ok: true, policyCount: 1 });
  assert.deepEqual(await engine.validate(READ_BUT_NOT_SECRETS), { ok: true, policyCount: 2 });
  const bad = await engine.validate('permit (principal, action == Writ::Action::"mcp_tool", resource) when { context.method == "GET" };');
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.errors.join('\n'), /attribute `method`/);
});

test('a grant permits mcp_tool for one tool, for one agent, user and resource; nothing else', async () => {
  await engine.load([{ id: 'search', text: SEARCH }]);
  const [yes, other, pattern, wrongAgent, wrongResource, http] = await engine.authorize([
    tool('search'),
    tool('delete_file'),
    tool('search*'),
    tool('search', { agent: 'a2' }),
    tool('search', { resource: 'other' }),
    request({ agent: 'a1', resource: 'files', resourceKind: 'mcp' }),
  ]);
  assert.deepEqual(yes, { decision: 'allow', reasons: ['search.0'], errors: [] });
  for (const d of [other, pattern, wrongAgent, wrongResource, http]) assert.deepEqual(d, { decision: 'deny', reasons: [], errors: [] });
});

test('a grant forbids by context.tool, over a permit by pattern', async () => {
  await engine.load([{ id: 'read', text: READ_BUT_NOT_SECRETS }]);
  const [file, prefix, secrets, all, write] = await engine.authorize([
    tool('read_file'),
    tool('read*'),
    tool('read_secrets'),
    tool('*'),
    tool('write_file'),
  ]);
  assert.equal(file?.decision, 'allow');
  // The pattern as written is what policy sees at issuance: `read*` is like "read*".
  assert.equal(prefix?.decision, 'allow');
  assert.deepEqual(secrets, { decision: 'deny', reasons: ['read.1'], errors: [] });
  assert.equal(all?.decision, 'deny');
  assert.equal(write?.decision, 'deny');
});

test('delegate: a grant names the child agent; principal is the parent, both are entities', async () => {
  const req = delegateRequest({ parent: agent('planner'), child: agent('researcher', 'team-b'), user: ALICE, depth: 1 });
  assert.deepEqual(req.principal, { type: 'Writ::Agent', id: 'planner' });
  assert.deepEqual(req.resource, { type: 'Writ::Agent', id: 'researcher' });
  assert.deepEqual(
    req.entities.map((e) => e.uid.id),
    ['planner', 'researcher', 'dev:alice'],
  );
  assert.equal(delegateRequest({ parent: agent('p'), child: agent('p'), user: ALICE, depth: 1 }).entities.length, 2);

  await engine.load([
    {
      id: 'to-researcher',
      text: 'permit (principal == Writ::Agent::"planner", action == Writ::Action::"delegate", resource == Writ::Agent::"researcher") when { context.depth <= 2 };',
    },
    {
      id: 'same-team',
      text: 'permit (principal, action == Writ::Action::"delegate", resource) when { principal.owner == resource.owner };',
    },
  ]);
  const [byId, tooDeep, otherChild, sameTeam, otherParent] = await engine.authorize([
    req,
    delegateRequest({ parent: agent('planner'), child: agent('researcher', 'team-b'), user: ALICE, depth: 3 }),
    delegateRequest({ parent: agent('planner'), child: agent('coder', 'team-b'), user: ALICE, depth: 1 }),
    delegateRequest({ parent: agent('planner'), child: agent('coder'), user: ALICE, depth: 1 }),
    delegateRequest({ parent: agent('intruder', 'team-x'), child: agent('researcher', 'team-b'), user: ALICE, depth: 1 }),
  ]);
  assert.deepEqual(byId, { decision: 'allow', reasons: ['to-researcher.0'], errors: [] });
  assert.equal(tooDeep?.decision, 'deny');
  assert.equal(otherChild?.decision, 'deny');
  assert.deepEqual(sameTeam, { decision: 'allow', reasons: ['same-team.0'], errors: [] });
  assert.equal(otherParent?.decision, 'deny');
});

test('context use and the call-decision cache see context.tool: one tool never answers for another', async () => {
  await engine.load([{ id: 'read', text: READ_BUT_NOT_SECRETS }]);
  assert.deepEqual(engine.contextUse, { all: false, attributes: ['tool'] });
  const cache = createCallDecisionCache(engine);
  const tools = ['read_file', 'read_secrets', 'write_file', 'read_file', 'read_secrets', 'read*', '*', 'read*'];
  for (const [i, t] of tools.entries()) {
    const cached = await cache.decide(tool(t, { purpose: `p${i}` }), 'v1');
    const [full] = await engine.authorize([tool(t, { purpose: `p${i}` })]);
    assert.deepEqual(cached, full, t);
  }
  // The purpose is read by no policy: it is not part of the key, so repeats hit.
  assert.deepEqual(cache.stats(), { hits: 3, misses: 5, size: 5 });
});
