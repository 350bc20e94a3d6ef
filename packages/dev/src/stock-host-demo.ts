/**
 * The part of `writ dev` where a stock MCP host signs in through Writ: the MCP SDK's own OAuth client, knowing only
 * the URL of `/mcp/demo`, discovers Writ, registers by its Client ID Metadata Document, sends alice through the dev
 * identity provider and Writ's consent page (she leaves two of three tools ticked), calls them, is refused the
 * third — and after the kill switch, neither its next call nor its refresh works.
 */
import type { AdminClient } from '@writ/server';
import { PATHS } from '@writ/protocol';
import { ScriptedMcpHost } from './kit/scripted-mcp-host.js';

/** Any stock client may use three tools of the demo for alice; she narrows it at consent. */
export const demoHostGrant = (
  resourceId: string,
  userId: string,
): string => `// Stock MCP hosts (any self-registered client) may use three tools of ${resourceId} for alice; she picks at consent.
permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"${resourceId}")
when {
  principal.kind == "oauth_client" && context.user == Writ::User::"${userId}" && ["echo", "get-sum", "get-env"].contains(context.tool)
};
`;

export const DEMO_HOST_REDIRECT = 'http://127.0.0.1/callback';

export async function runStockHostDemo(o: {
  publicUrl: string;
  admin: AdminClient;
  clientMetadataUrl: string;
  alice: { username: string; password: string };
  out: (line: string) => void;
}): Promise<boolean> {
  const { out } = o;
  const url = `${o.publicUrl}/mcp/demo`;
  const host = new ScriptedMcpHost({
    redirectUri: 'http://127.0.0.1:47421/callback',
    clientMetadataUrl: o.clientMetadataUrl,
    user: o.alice,
    consent: { choose: (offered) => offered.filter((c) => c !== 'tool:get-env') },
  });
  out(`  host › knows only ${url}; its client_id is its metadata document ${o.clientMetadataUrl}`);
  const client = await host.connect(url);
  out(
    `  alice › signed in at the dev identity provider; Writ's consent page offered ${host.offered.join(', ')}; she unticked tool:get-env`,
  );
  out(`  host › token_type ${host.tokenSet?.token_type ?? '?'}, expires in ${host.tokenSet?.expires_in ?? '?'} s, with a refresh token`);
  const tools = (await client.listTools()).tools.map((t) => t.name);
  out(`  host › tools/list: ${tools.join(', ')}`);
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello from a stock MCP host' } });
  const sum = await client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } });
  out(`  host › echo: ${JSON.stringify(echo.content).slice(0, 80)}; get-sum: ${JSON.stringify(sum.content).slice(0, 60)}`);
  const env = await client.callTool({ name: 'get-env', arguments: {} }).then(
    () => 'allowed (bug!)',
    (err: unknown) => `refused (${(err as Error).message.slice(0, 80)})`,
  );
  out(`  host › get-env: ${env}`);
  const agents = await o.admin.get<Array<{ id: string; kind: string; name: string }>>('/agents');
  const agent = agents.find((a) => a.kind === 'oauth_client' && a.name === 'Writ demo MCP host');
  if (agent === undefined) throw new Error('the host did not land in the register');
  out(`  register › the host is agent ${agent.id} (kind oauth_client)`);
  await o.admin.post('/revocations', { target: { type: 'agent', agentId: agent.id }, reason: 'demo: stop the stock host' });
  out(`  operator › writ revoke agent ${agent.id} --reason "demo: stop the stock host"`);
  const after = await client.callTool({ name: 'echo', arguments: { message: 'still there?' } }).then(
    () => 'allowed (bug!)',
    () => 'refused',
  );
  const refresh = await fetch(`${o.publicUrl}${PATHS.token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: host.tokenSet?.refresh_token ?? '',
      client_id: o.clientMetadataUrl,
    }),
  });
  const refreshError = ((await refresh.json()) as { error?: string }).error ?? 'none';
  out(`  host › next call: ${after}; refresh: ${refresh.status} ${refreshError}`);
  await client.close().catch(() => undefined);
  return (
    tools.length === 2 && !env.startsWith('allowed') && after === 'refused' && refresh.status === 400 && refreshError === 'invalid_grant'
  );
}
