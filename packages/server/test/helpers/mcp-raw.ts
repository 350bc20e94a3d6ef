/** Raw MCP requests for tests that must see the gateway's exact answer (status, headers), not a client's reading. */
import type { Task } from '@writ/agent';

/** A session-based `initialize` (MCP 2025-06-18), as a stock client sends it. */
export function postInitialize(task: Task, url: string, clientName = 'raw'): Promise<Response> {
  return task.fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: clientName, version: '1' } },
    }),
  });
}

/** One JSON-RPC message POSTed in a session (MCP 2025-06-18), as a stock client sends it. */
export function postInSession(task: Task, url: string, sid: string, message: Record<string, unknown>): Promise<Response> {
  return task.fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sid,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
}
