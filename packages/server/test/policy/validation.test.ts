/**
 * Grant validation (strict mode, against the Writ schema): a realistic grant passes; every kind of mistake is refused
 * with a message that names the problem and, where Cedar locates it, the line and column in the grant as written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPolicyEngine, type PolicyEngine } from '../../src/policy/index.js';
import { DEMO_GRANT, demoGrant } from './fixtures/requests.js';

let engine: PolicyEngine;
before(() => {
  engine = createPolicyEngine();
});
after(() => engine.close());

async function errorsOf(text: string): Promise<string> {
  const r = await engine.validate(text);
  assert.equal(r.ok, false, `expected refusal of:\n${text}`);
  return r.ok ? '' : r.errors.join('\n');
}

test('the demo grant that `writ dev` seeds is accepted, and so are the other shapes grants take', async () => {
  assert.deepEqual(await engine.validate(DEMO_GRANT), { ok: true, policyCount: 1 });
  assert.deepEqual(await engine.validate(demoGrant('agent-7', 'crm', 'corp:00u1')), { ok: true, policyCount: 1 });
  const several = `${DEMO_GRANT}
forbid (principal, action == Writ::Action::"http", resource) when { context.path like "/admin*" };
permit (principal, action == Writ::Action::"delegate", resource) when { context.depth < 2 && principal.owner == resource.owner };
permit (principal, action, resource) when { context has purpose && context.user has email && context.user.email like "*@example.com" };`;
  assert.deepEqual(await engine.validate(several), { ok: true, policyCount: 4 });
});

test('refusals name the problem', async () => {
  const cases: Array<[what: string, text: string, expected: RegExp[]]> = [
    [
      'unknown entity type',
      'permit (principal == Writ::Agnet::"a", action, resource);',
      [/unrecognized entity type `Writ::Agnet`/, /Writ::Agent/],
    ],
    ['entity type outside the namespace', 'permit (principal == User::"alice", action, resource);', [/unrecognized entity type `User`/]],
    ['unknown action', 'permit (principal, action == Writ::Action::"fly", resource);', [/unrecognized action/, /fly/]],
    [
      'misspelt context attribute',
      'permit (principal, action == Writ::Action::"http", resource) when { context.pathh == "/" };',
      [/attribute `pathh`/, /did you mean `path`/],
    ],
    [
      'misspelt entity attribute',
      'permit (principal, action == Writ::Action::"http", resource) when { principal.nmae == "x" };',
      [/attribute `nmae`/, /Writ::Agent/],
    ],
    [
      'Long compared with String',
      'permit (principal, action == Writ::Action::"http", resource) when { context.depth == "1" };',
      [/Long/, /String/],
    ],
    [
      'like on a Long',
      'permit (principal, action == Writ::Action::"http", resource) when { context.depth like "1*" };',
      [/expected String but saw Long/],
    ],
    [
      'optional attribute read without has',
      'permit (principal, action == Writ::Action::"http", resource) when { context.user.email == "a@example.com" };',
      [/email/],
    ],
    ['syntax error', 'permit (principal, action, resource) when { context.path like };', [/unexpected token `}`/, /\(line 1, column 63\)/]],
    [
      'syntax error on a later line',
      'permit (principal, action, resource)\n  when { context.path ==== "x" };',
      [/unexpected token/, /\(line 2, column \d+\)/],
    ],
    ['missing semicolon', 'permit (principal, action, resource)', [/unexpected end of input|expected/]],
    ['a template is not a grant', 'permit (principal == ?principal, action, resource);', [/templates are not supported/]],
    ['empty grant', '', [/no policy found/]],
    ['comment only', '// nothing here\n', [/no policy found/]],
  ];
  for (const [what, text, expected] of cases) {
    const message = await errorsOf(text);
    for (const re of expected) assert.match(message, re, `${what}: ${message}`);
  }
});

test('line and column are those of the grant as written, for every policy in it', async () => {
  // The demo grant with `context.method` misspelt on its 8th line (the comment line counts).
  const typo = DEMO_GRANT.replace('contains(context.method)', 'contains(context.methd)');
  const lines = typo.split('\n');
  const line = lines.findIndex((l) => l.includes('methd')) + 1;
  const column = (lines[line - 1] ?? '').indexOf('context.methd') + 1;
  assert.equal(line, 8);
  assert.match(await errorsOf(typo), new RegExp(`policy 1: .*\`methd\`.*\\(line ${line}, column ${column}\\)`));

  // The second policy of a grant, after blank lines: its error is reported where it is in the grant.
  const two =
    'permit (principal, action, resource);\n\n\n  permit (principal, action == Writ::Action::"http", resource) when { context.pathh == "/" };';
  const col = (two.split('\n')[3] ?? '').indexOf('context.pathh') + 1;
  assert.match(await errorsOf(two), new RegExp(`policy 2: .*\`pathh\`.*\\(line 4, column ${col}\\)`));
});

test('every error is reported, each with its policy number', async () => {
  const message = await errorsOf(`permit (principal, action == Writ::Action::"http", resource) when { context.methd == "GET" };
permit (principal, action == Writ::Action::"http", resource) when { true };
permit (principal == Writ::Agnet::"x", action, resource);`);
  assert.match(message, /^policy 1: .*methd/m);
  assert.match(message, /^policy 3: .*Agnet/m);
  assert.doesNotMatch(message, /^policy 2:/m);
});
