/**
 * The scripted demo agent. It runs as its own process and knows only what a real agent would: Writ's URL, its
 * agent id, its own private key, and the user's token its host application handed it. It uses the agent SDK for
 * everything. Input arrives as one JSON object on standard input; the last line it prints is a machine-readable
 * result for `writ dev`.
 */
import { importJWK, type JWK } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TOKEN_TYPE, type AuthorizationDetail } from '@writ/protocol';
import { WritAgent, createMcpFetch } from '@writ/agent';

interface DemoInput {
  issuer: string;
  agentId: string;
  clientKeyJwk: JWK;
  subjectToken: string;
  resource: string;
  /** An upstream whose tokens are per user: Writ exchanges one for alice and this agent on each call. */
  whoamiResource: string;
  /** The MCP resource (server-everything behind Writ). */
  mcpResource: string;
}

const say = (line: string): void => console.log(`  agent › ${line}`);

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DemoInput;
  const clientKey = await importJWK(input.clientKeyJwk, 'ES256');
  if (clientKey instanceof Uint8Array) throw new TypeError('the agent key must be an asymmetric private key');
  const agent = new WritAgent({
    issuer: input.issuer,
    agentId: input.agentId,
    clientKey,
    ...(input.clientKeyJwk.kid !== undefined ? { clientKid: input.clientKeyJwk.kid } : {}),
  });

  const requested: AuthorizationDetail[] = [{ type: 'http', actions: ['GET'], paths: ['/v1/projects', '/v1/projects/*'] }];
  say(`asks Writ for a task token for alice: ${JSON.stringify(requested)}`);
  const task = await agent.startTask({
    subjectToken: input.subjectToken,
    subjectTokenType: TOKEN_TYPE.idToken,
    resource: input.resource,
    authorizationDetails: requested,
    purpose: "list alice's projects",
  });
  say(`got task ${task.id}: a DPoP-bound token (${task.token.length} chars), valid until ${new Date(task.expiresAt * 1000).toISOString()}`);
  say(`granted: ${JSON.stringify(task.authorizationDetails)}`);

  const call = async (method: string, path: string): Promise<number> => {
    const res = await task.fetch(`${input.resource}${path}`, { method });
    const text = await res.text();
    say(`${method} ${path} → ${res.status} ${text.length > 160 ? `${text.slice(0, 160)}…` : text}`);
    return res.status;
  };

  const results: Record<string, number> = {};
  results['list'] = await call('GET', '/v1/projects');
  results['read'] = await call('GET', '/v1/projects/1');
  say('now tries something the task was not authorized for:');
  results['delete'] = await call('DELETE', '/v1/projects/1');
  results['admin'] = await call('GET', '/v1/admin/users');
  say("it never held demo-api's API key: only its own key, its DPoP key and the task token.");
  await task.complete();
  say(`completed task ${task.id}; the very next call with the same token:`);
  results['afterComplete'] = await call('GET', '/v1/projects');

  // An upstream with its own authorization server: Writ exchanges an assertion naming alice and this agent for a
  // token of hers, per call; the agent never sees it.
  say(`now a per-user upstream at ${input.whoamiResource}, which knows people only by its own tokens:`);
  const whoTask = await agent.startTask({
    subjectToken: input.subjectToken,
    subjectTokenType: TOKEN_TYPE.idToken,
    resource: input.whoamiResource,
    authorizationDetails: [{ type: 'http', actions: ['GET'], paths: ['/whoami'] }],
    purpose: 'ask the upstream who it sees',
  });
  const who = await whoTask.fetch(`${input.whoamiResource}/whoami`);
  const seen = (await who.json()) as { sub?: string; act?: { sub?: string }; echo?: string };
  say(`GET /whoami → ${who.status}: the upstream saw user ${seen.sub ?? '?'} with agent ${seen.act?.sub ?? '?'} acting`);
  say(`it echoed the token it was sent; what reached this agent: "${(seen.echo ?? '').slice(0, 40)}…"`);
  results['whoami'] =
    who.status === 200 && seen.sub === 'dev:alice' && seen.act?.sub === input.agentId && /^Bearer \[writ:scrubbed\]/.test(seen.echo ?? '')
      ? 200
      : 500;
  await whoTask.complete();

  // The same agent as an MCP client: the stock MCP SDK, with Writ's DPoP fetch. Every tools/call is decided on its own.
  const tools: AuthorizationDetail[] = [{ type: 'mcp', tools: ['echo', 'get-sum'] }];
  say(`now an MCP task at ${input.mcpResource}: ${JSON.stringify(tools)}`);
  const mcpTask = await agent.startTask({
    subjectToken: input.subjectToken,
    subjectTokenType: TOKEN_TYPE.idToken,
    resource: input.mcpResource,
    authorizationDetails: tools,
    purpose: 'try the MCP tools',
  });
  const client = new Client({ name: 'writ-demo-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(input.mcpResource), { fetch: createMcpFetch({ task: mcpTask, url: input.mcpResource }) }),
  );
  const listed = (await client.listTools()).tools.map((t) => t.name);
  say(`MCP tools/list → ${JSON.stringify(listed)} (server-everything has many more; Writ shows only the task's)`);
  results['mcpListed'] = listed.length;
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello through Writ' } });
  say(`MCP tools/call echo → ${JSON.stringify(echo.content)}`);
  results['mcpEcho'] = echo.isError === true ? 500 : 200;
  const sum = await client.callTool({ name: 'get-sum', arguments: { a: 19, b: 23 } });
  say(`MCP tools/call get-sum(19, 23) → ${JSON.stringify(sum.content)}`);
  say("now tries get-env, which would hand it the server's environment:");
  try {
    await client.callTool({ name: 'get-env', arguments: {} });
    results['mcpEnv'] = 200;
    say('MCP tools/call get-env → allowed (bug!)');
  } catch (err) {
    const e = err as { code?: number; message?: string; data?: { code?: string } };
    results['mcpEnv'] = e.data?.code === 'ERR_ACTION_NOT_AUTHORIZED' ? 403 : 500;
    say(`MCP tools/call get-env → JSON-RPC error ${e.code ?? '?'} ${e.data?.code ?? ''}: ${e.message ?? ''}`);
  }
  await mcpTask.complete();
  say(`completed MCP task ${mcpTask.id}; the open session's next call:`);
  try {
    await client.callTool({ name: 'echo', arguments: { message: 'again' } });
    results['mcpAfterComplete'] = 200;
  } catch (err) {
    const e = err as { code?: unknown; message?: string };
    results['mcpAfterComplete'] = e.code === 401 || /ERR_REVOKED_TASK/.test(String(e.message)) ? 401 : 500;
    say(`MCP tools/call echo → refused: ${String((err as Error).message).slice(0, 160)}`);
  }
  await client.close().catch(() => undefined);
  console.log(`WRIT_DEMO_RESULT ${JSON.stringify({ taskId: task.id, mcpTaskId: mcpTask.id, results })}`);
}

main().catch((err: unknown) => {
  console.error(`  agent › failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
