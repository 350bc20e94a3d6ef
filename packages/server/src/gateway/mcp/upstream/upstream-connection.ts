/**
 * One MCP session between Writ (as the MCP client) and an upstream MCP server, at the level of JSON-RPC messages.
 * The gateway relays each agent session over its own upstream connection, so upstream state (subscriptions, logging
 * level, a filesystem server's roots) is never shared between agents; implementations are Streamable HTTP
 * (`http-upstream.ts`) and a supervised stdio process (`stdio-upstream.ts`).
 */

/** A JSON-RPC 2.0 message as it travels: request, notification or response. Validated by the gateway, not here. */
export type JsonRpcMessage = Record<string, unknown> & { jsonrpc: '2.0' };

export interface UpstreamSendContext {
  /** W3C trace context of the agent call this message belongs to; sent upstream where the transport can carry it. */
  traceparent: string;
}

export interface UpstreamConnection {
  /**
   * Sends one message. Resolves once the upstream accepted it (HTTP: the response headers arrived; stdio: the line
   * was written). Messages the upstream sends back — the response, and anything sent in relation to a request — arrive
   * through `onMessage`. Rejects with an UpstreamError when the message cannot be delivered.
   */
  send(message: JsonRpcMessage, context: UpstreamSendContext): Promise<void>;
  /** Every message from the upstream, in order. */
  onMessage: ((message: JsonRpcMessage) => void) | undefined;
  /** The connection ended for good (closed by us, or the upstream is gone and will not come back). */
  onClose: ((reason: string) => void) | undefined;
  close(): Promise<void>;
}

export class UpstreamError extends Error {
  // A declared field, not a constructor parameter property: `erasableSyntaxOnly` rejects parameter properties.
  readonly code: 'ERR_UPSTREAM_UNAVAILABLE' | 'ERR_UPSTREAM_TIMEOUT';

  constructor(code: 'ERR_UPSTREAM_UNAVAILABLE' | 'ERR_UPSTREAM_TIMEOUT', message: string) {
    super(message);
    this.code = code;
    this.name = 'UpstreamError';
  }
}
