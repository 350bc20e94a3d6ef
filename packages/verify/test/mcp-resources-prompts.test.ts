/**
 * `mcp` details that name resources and prompts: validation, matching (exact, prefixes that only ever match plain
 * URIs), argument constraints on prompts, listing, and attenuation — a child never covers more than its parent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthorizationDetail } from '@writ/protocol';
import { matchMcpPromptGet, matchMcpToolCall, mcpPromptPermitted, mcpResourcePermitted } from '../src/index.js';
import { canonicalMcpDetail, isSubsetOf } from '../src/internal.js';

const AUD = 'https://writ.example/mcp/files';

test('validation: at least one of tools, resources, prompts; each entry well formed', () => {
  assert.deepEqual(canonicalMcpDetail({ type: 'mcp', resources: ['file:///srv/*', 'file:///srv/*'] }), {
    type: 'mcp',
    resources: ['file:///srv/*'],
  });
  assert.deepEqual(canonicalMcpDetail({ type: 'mcp', prompts: ['summarise'] }), { type: 'mcp', prompts: ['summarise'] });
  for (const bad of [
    { type: 'mcp' },
    { type: 'mcp', resources: [] },
    { type: 'mcp', resources: ['file:///a b'] },
    { type: 'mcp', resources: ['ﬁle:///x'] },
    { type: 'mcp', resources: [1] },
    { type: 'mcp', prompts: ['bad name'] },
    { type: 'mcp', prompts: ['ｓummarise'] },
    { type: 'mcp', tools: ['x'], resources: 'file:///x' },
  ]) {
    assert.throws(() => canonicalMcpDetail(bad), JSON.stringify(bad));
  }
});

test('resources: exact URIs literally; prefixes only plain URIs (no dot segments, no encoded separators)', () => {
  const d: AuthorizationDetail[] = [{ type: 'mcp', resources: ['file:///srv/reports/*', 'notes://exact'] }];
  const ok = (uri: unknown): boolean => mcpResourcePermitted(d, AUD, uri);
  assert.equal(ok('file:///srv/reports/q3.pdf'), true);
  assert.equal(ok('file:///srv/reports/2026/q3.pdf'), true);
  assert.equal(ok('notes://exact'), true);
  for (const uri of [
    'file:///srv/reports/../keys/id_rsa',
    'file:///srv/reports/./../keys',
    'file:///srv/reports/%2e%2e/keys',
    'file:///srv/reports/%2E%2E/keys',
    'file:///srv/reports/..%2fkeys',
    'file:///srv/reports/..%5ckeys',
    'file:///srv/reports\\..\\keys',
    'file:///srv/reports2/x',
    'file:///srv/report',
    'notes://exact/more',
    'NOTES://exact',
    'file:///srv/reports/\u0000x',
    'file:///srv/reports/é',
    '',
    42,
    undefined,
  ]) {
    assert.equal(ok(uri), false, JSON.stringify(uri));
  }
  assert.equal(
    mcpResourcePermitted([{ type: 'mcp', locations: ['https://writ.example/mcp/other'], resources: ['*'] }], AUD, 'notes://x'),
    false,
  );
  assert.equal(mcpResourcePermitted([{ type: 'mcp', resources: ['*'] }], AUD, 'notes://x'), true);
  assert.equal(mcpResourcePermitted([{ type: 'mcp', tools: ['*'] }], AUD, 'notes://x'), false, 'tools never grant resources');
});

test('prompts: names like tools, argument constraints apply, and prompts never grant tools (or the reverse)', () => {
  const d: AuthorizationDetail[] = [{ type: 'mcp', prompts: ['summarise*'], arguments: { lang: { enum: ['en', 'de'] } } }];
  assert.equal(matchMcpPromptGet(d, { resource: AUD, prompt: 'summarise', arguments: { lang: 'en' } }), true);
  assert.equal(matchMcpPromptGet(d, { resource: AUD, prompt: 'summarise_long', arguments: { lang: 'de' } }), true);
  assert.equal(matchMcpPromptGet(d, { resource: AUD, prompt: 'summarise', arguments: { lang: 'fr' } }), false);
  assert.equal(matchMcpPromptGet(d, { resource: AUD, prompt: 'summarise' }), false, 'a constrained argument is required');
  assert.equal(matchMcpPromptGet(d, { resource: AUD, prompt: 'Summarise', arguments: { lang: 'en' } }), false);
  assert.equal(mcpPromptPermitted(d, AUD, 'summarise'), true);
  assert.equal(mcpPromptPermitted(d, AUD, 'translate'), false);
  assert.equal(matchMcpToolCall(d, { resource: AUD, tool: 'summarise', arguments: { lang: 'en' } }), false);
  assert.equal(matchMcpPromptGet([{ type: 'mcp', tools: ['summarise'] }], { resource: AUD, prompt: 'summarise' }), false);
});

test("attenuation: a child's resources and prompts must be within its parent's", () => {
  const parent: AuthorizationDetail[] = [
    { type: 'mcp', resources: ['file:///srv/reports/*'], prompts: ['summarise*'], arguments: { lang: { enum: ['en', 'de'] } } },
  ];
  const sub = (child: AuthorizationDetail[]): boolean => isSubsetOf(child, parent);
  assert.equal(sub([{ type: 'mcp', resources: ['file:///srv/reports/2026/*'] }]), true);
  assert.equal(sub([{ type: 'mcp', resources: ['file:///srv/reports/q3.pdf'] }]), true);
  assert.equal(sub([{ type: 'mcp', resources: ['file:///srv/*'] }]), false, 'wider prefix');
  assert.equal(sub([{ type: 'mcp', resources: ['*'] }]), false);
  assert.equal(
    sub([{ type: 'mcp', resources: ['file:///srv/reports/../keys'] }]),
    false,
    "an exact URI the parent's prefix would never match",
  );
  assert.equal(sub([{ type: 'mcp', prompts: ['summarise_long'], arguments: { lang: { enum: ['en'] } } }]), true);
  assert.equal(sub([{ type: 'mcp', prompts: ['summarise_long'] }]), false, "dropping the parent's argument constraint widens it");
  assert.equal(sub([{ type: 'mcp', prompts: ['translate'], arguments: { lang: { enum: ['en'] } } }]), false);
  assert.equal(
    sub([{ type: 'mcp', tools: ['summarise'], arguments: { lang: { enum: ['en'] } } }]),
    false,
    'a prompt grant is no tool grant',
  );
});
