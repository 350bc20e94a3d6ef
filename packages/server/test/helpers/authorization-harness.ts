/**
 * A Writ whose authorization server signs people in at the harness's dev identity provider, with the MCP resource
 * `everything` (server-everything, started by Writ on loopback, bearer tokens accepted for hosts without DPoP) and a
 * grant that lets any self-registered client use `tools` of it for alice.
 */
import { createRequire } from 'node:module';
import type { StoreKind } from './stores.js';
import { startHarness, type Harness } from './writ-harness.js';

const require = createRequire(import.meta.url);
export const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

/** Sign-in at the harness's dev provider, open registration, clients active at once. */
export const AUTHORIZATION_SERVER_CONFIG: Record<string, unknown> = {
  'authorization.login.provider': 'dev',
  'authorization.login.clientId': 'writ-login',
  'authorization.registration.mode': 'open',
  'authorization.registration.newClientStatus': 'active',
};

export async function startAuthorizationHarness(
  kind: StoreKind,
  o: { tools: string[]; config?: Record<string, unknown> },
): Promise<Harness & { alice: { username: string; password: string } }> {
  const h = await startHarness(kind, { config: { ...AUTHORIZATION_SERVER_CONFIG, ...o.config } });
  const upstream = { name: 'everything', transport: 'http-process', args: [EVERYTHING, 'streamableHttp'] };
  await h.admin.post('/resources', { id: 'everything', kind: 'mcp', mcp: { upstreams: [upstream], bearer: { allowed: true } } });
  await h.admin.post('/grants', {
    id: 'hosts',
    policy: `permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"everything")
when { principal.kind == "oauth_client" && context.user == Writ::User::"dev:alice" && ${JSON.stringify(o.tools)}.contains(context.tool) };`,
  });
  const alice = { username: 'alice', password: h.idp.accounts.find((a) => a.username === 'alice')?.password ?? '' };
  return Object.assign(h, { alice });
}
